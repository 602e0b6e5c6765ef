"""The demo's story, told through the utility's own interfaces: a transformer-stress alert on the BAP's
API, then everything else as an operator sees it on the console WebSocket — offers, the recommendation,
approval, orders, dispatch, acknowledgements, delivery and settlement.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from participant.network.console import ConsoleError, Frame, OperatorConsole
from participant.network.demo_network import CAPACITY_KW, LOAD_KW, STRESSED_NODE, Timeline
from participant.network.display import Display
from participant.network.plan import ParticipantPlan
from participant.network.progress import Phase, Status, Tracker
from schemas.core_v1 import format_duration

APPROVAL = "yes, proceed"
GRACE_SECONDS = 20.0
"""After the event window: time for the last reports and the settlement to arrive."""


@dataclass
class Outcome:
    ok: bool
    event_id: str | None
    reason: str | None = None


def grid_alert(timeline: Timeline, now: datetime) -> dict[str, Any]:
    start = now + timeline.lead
    return {
        "node_id": STRESSED_NODE,
        "load_kw": str(LOAD_KW),
        "capacity_kw": str(CAPACITY_KW),
        "forecast_peak_kw": str(timeline.forecast_peak_kw),
        "expected_start": start.isoformat(),
        "duration": format_duration(timeline.duration),
        "severity": "high",
    }


class Scenario:
    def __init__(
        self,
        bap: ParticipantPlan,
        client: httpx.AsyncClient,
        tracker: Tracker,
        display: Display,
        timeline: Timeline,
        *,
        interactive: bool,
    ) -> None:
        assert bap.operator_token is not None, "the demo BAP has a generated operator"
        self.bap = bap
        self.token = bap.operator_token
        self.client = client
        self.tracker = tracker
        self.display = display
        self.timeline = timeline
        self.interactive = interactive
        self._frame: asyncio.Future[Frame] | None = None

    @property
    def base_url(self) -> str:
        return self.bap.health_url.removesuffix("/health")

    async def run(self) -> Outcome:
        async with OperatorConsole.open(self.base_url, self.token) as console:
            first = await console.next()
            if first.get("type") != "snapshot":
                return Outcome(False, None, f"the console's first frame was {first.get('type')}")
            await self._raise_alert()
            deadline = self._deadline()
            try:
                await asyncio.wait_for(self._follow(console), timeout=deadline)
            except TimeoutError:
                waiting = self._waiting_for()
                self.tracker.fail(waiting, f"nothing more within the demo's {deadline:.0f} s")
            except ConsoleError as exc:
                self.tracker.fail(self._waiting_for(), str(exc))
        self.display.refresh(self.tracker)
        return Outcome(self.tracker.failure is None, self.tracker.event_id, self.tracker.failure)

    def _deadline(self) -> float:
        if not self.tracker.dispatch_available:
            return self.timeline.lead.total_seconds() + 30.0
        window = (self.timeline.lead + self.timeline.duration).total_seconds()
        return window + GRACE_SECONDS + (600.0 if self.interactive else 0.0)

    def _waiting_for(self) -> Phase:
        for state in self.tracker.phases.values():
            if state.status in (Status.PENDING, Status.RUNNING):
                return state.phase
        return Phase.SETTLEMENT

    async def _raise_alert(self) -> None:
        alert = grid_alert(self.timeline, datetime.now(UTC))
        response = await self.client.post(
            f"{self.base_url}/api/grid-alerts",
            json=alert,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        if response.status_code != 202:
            self.tracker.fail(Phase.ALERT, f"the BAP answered {response.status_code}: {response.text}")
            return
        answer = response.json()
        event = answer.get("event") or {}
        self.tracker.event_id = event.get("id")
        start = datetime.fromisoformat(alert["expected_start"]).strftime("%H:%M:%S")
        self.tracker.set(
            Phase.ALERT,
            Status.DONE,
            f"{STRESSED_NODE} heading for {self.timeline.forecast_peak_kw.normalize():f} kW on "
            f"{CAPACITY_KW} kW: "
            f"{answer.get('need_kw')} kW needed from {start} UTC for {self.timeline.duration.seconds} s",
        )
        self.tracker.set(Phase.DISCOVERY, Status.RUNNING, "search sent to every aggregator in the registry")
        self.display.refresh(self.tracker)

    async def _follow(self, console: OperatorConsole) -> None:
        approval_asked = False
        typed: asyncio.Queue[str] | None = None
        while not self._finished():
            frame = await self._next(console, typed)
            if frame is None:
                continue
            self.tracker.apply(frame)
            self._narrate(frame)
            if self._awaiting_approval() and not approval_asked:
                approval_asked = True
                typed = await self._approve(console)
            self.display.refresh(self.tracker)

    async def _next(self, console: OperatorConsole, typed: asyncio.Queue[str] | None) -> Frame | None:
        """The next frame, or None after forwarding a line a person typed (while one may type)."""
        if typed is None:
            return await console.next()
        if self._frame is None:
            self._frame = asyncio.ensure_future(console.next())
        line: asyncio.Future[str] = asyncio.ensure_future(typed.get())
        waiting: set[asyncio.Future[Any]] = {self._frame, line}
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if line in done:
            await console.send(line.result())
        else:
            line.cancel()
        if self._frame not in done:
            return None
        frame, self._frame = self._frame.result(), None
        return frame

    def _finished(self) -> bool:
        if self.tracker.failure is not None:
            return True
        if not self.tracker.dispatch_available:
            return self.tracker.confirmed
        return self.tracker.settled

    def _awaiting_approval(self) -> bool:
        return self.tracker.phases[Phase.APPROVAL].status is Status.RUNNING

    async def _approve(self, console: OperatorConsole) -> asyncio.Queue[str] | None:
        if not self.interactive:
            await console.send(APPROVAL)
            self.tracker.set(Phase.APPROVAL, Status.RUNNING, f"the demo operator sent '{APPROVAL}'")
            return None
        prompt = (self.tracker.recommendation or {}).get("prompt") or f"Reply '{APPROVAL}' to activate."
        self.display.say(f"{prompt} (type it here, or on the console WebSocket)")
        self.tracker.set(Phase.APPROVAL, Status.RUNNING, "waiting for a person")
        return typed_lines()

    def _narrate(self, frame: Frame) -> None:
        data = frame.get("data") or {}
        if frame.get("type") == "reply" and not data.get("ok"):
            self.display.say(f"console: {data.get('text')}")
        elif frame.get("type") == "alert" and data.get("kind") != "grid_stress":
            self.display.say(f"alert ({data.get('kind')}): {data.get('message')}")
        elif frame.get("type") == "error":
            self.display.say(f"error ({data.get('code')}): {data.get('message')}")


def typed_lines() -> asyncio.Queue[str]:
    """Lines typed on our standard input, read by a daemon thread (it never holds up the exit)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            if line.strip():
                loop.call_soon_threadsafe(queue.put_nowait, line.strip())

    threading.Thread(target=read, name="demo-stdin", daemon=True).start()
    return queue
