"""`degflex demo`: the demo network up, the scenario told, the summary read back, everything stopped.

The order matters for the figures: the summary and the record are read from the databases after the
scenario ends and before anything stops, once no message is still on its way.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from participant.network.addresses import format_addresses, network_addresses
from participant.network.demo_network import Timeline, demo_network, device_count, dispatch_available
from participant.network.display import Display
from participant.network.plan import plan_network
from participant.network.progress import Phase, Status, Tracker
from participant.network.recording import outbox_quiet, record
from participant.network.scenario import Scenario
from participant.network.session import INTERRUPTED, RunningNetwork, print_error, run_network
from participant.network.summary import format_summary, read_summary

STEPS = ("infrastructure:", "registry:", "participants:", "devices:")


@dataclass(frozen=True)
class DemoOptions:
    directory: Path
    json_path: Path | None = None
    record_dir: Path | None = None
    keep_running: bool = False
    interactive: bool = False
    timeline: Timeline = Timeline()


def run_demo(options: DemoOptions, display: Display) -> int:
    spec = demo_network(options.timeline)
    plan = plan_network(spec, options.directory)
    available = dispatch_available()
    tracker = Tracker(aggregators=len(plan.bpps), dispatch_available=available)
    started = time.monotonic()
    started_at = datetime.now(UTC)
    kept_running = False

    def say(text: str) -> None:
        """Start-up steps update the network phase; anything else is a message."""
        if text.startswith(STEPS) and tracker.phases[Phase.NETWORK].status is not Status.DONE:
            tracker.set(Phase.NETWORK, Status.RUNNING, text)
            display.refresh(tracker)
        else:
            display.say(text)

    async def body(network: RunningNetwork) -> int:
        nonlocal kept_running
        tracker.set(
            Phase.NETWORK,
            Status.DONE,
            f"{len(network.supervisor.children)} processes, {len(plan.bpps)} aggregators, "
            f"{device_count()} devices",
        )
        display.refresh(tracker)
        outcome = await Scenario(
            plan.baps[0], network.client, tracker, display, options.timeline, interactive=options.interactive
        ).run()
        await outbox_quiet(plan)
        summary = await read_summary(plan, outcome.event_id)
        summary["demo"] = _run_facts(tracker, started, started_at, options.timeline, outcome.reason)
        display.say(format_summary(summary, dispatch_available=available))
        if options.json_path is not None:
            _write_json(options.json_path, summary)
            display.say(f"summary written to {options.json_path}")
        if options.record_dir is not None:
            written = await record(plan, network.client, options.record_dir)
            display.say(f"messages recorded in {options.record_dir} ({sum(written.values())} lines)")
        display.say(f"demo {'finished' if outcome.ok else 'failed'} in {time.monotonic() - started:.1f} s")
        if not outcome.ok:
            display.say(f"reason: {outcome.reason}")
            _show_logs_hint(display, plan.directory)
            return 1
        if options.keep_running:
            display.say("the network keeps running; Ctrl-C stops it:")
            display.say(format_addresses(network_addresses(plan)))
            kept_running = True
            await asyncio.Event().wait()
        return 0

    with display:
        display.refresh(tracker)
        code = asyncio.run(run_network(plan, body, say=say, error=_error(display)))
    # With --keep-running, Ctrl-C (or SIGTERM) after a successful event is how the demo ends.
    return 0 if kept_running and code == INTERRUPTED else code


def _error(display: Display) -> Any:
    def error(text: str) -> None:
        display.say(text)
        print_error("degflex demo: " + text.splitlines()[0])

    return error


def _show_logs_hint(display: Display, directory: Path) -> None:
    display.say(f"every part's log is in {directory / 'logs'}")


def _run_facts(
    tracker: Tracker, started: float, started_at: datetime, timeline: Timeline, failure: str | None
) -> dict[str, Any]:
    return {
        "started_at": started_at.isoformat(),
        "duration_s": round(time.monotonic() - started, 1),
        "ok": failure is None,
        "failure": failure,
        "dispatch_available": tracker.dispatch_available,
        "timeline": {
            "alert_to_start_s": timeline.lead.total_seconds(),
            "event_duration_s": timeline.duration.total_seconds(),
            "report_interval_s": timeline.report_interval.total_seconds(),
        },
        "phases": {
            str(phase): {"status": str(state.status), "detail": state.detail}
            for phase, state in tracker.phases.items()
        },
    }


def _write_json(path: Path, summary: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
