"""Dispatch running inside a BPP: the NATS connection, the device-event consumer, the planner and the
publisher, each a background task that survives NATS and database trouble and stops cleanly.

Every decision is taken in the database (`service`, `progress`, `events`), one short transaction at a
time, so a restarted BPP, or another replica on the same database, carries on where this one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bpp.devices.bus import DeviceBus, EventSubscription
from bpp.devices.errors import DeviceBusError
from bpp.devices.events import DeviceEvent
from bpp.devices.tasks import cancel_and_wait
from bpp.dispatch import service
from bpp.dispatch.events import EventOutcome, handle_events
from bpp.dispatch.policy import DispatchPolicy
from bpp.dispatch.progress import Reporter
from bpp.dispatch.publisher import CommandPublisher
from bpp.dispatch.readings import ReadingRepository
from bpp.dispatch.repository import PlanRepository
from bpp.settings import BppSettings
from participant.app import ParticipantRuntime, unit_of_work
from participant.db import utcnow

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class EventCounters:
    """What the consumer has stored, and when it first and last stored an ack (for the benchmark)."""

    batches: int = 0
    announcements: int = 0
    telemetry: int = 0
    acks: int = 0
    duplicate_acks: int = 0
    dropped: int = 0
    first_ack_at: float | None = None
    last_ack_at: float | None = None
    ack_busy_s: float = 0.0
    """Time spent storing the batches that held acks (what the BPP itself needs per ack)."""

    def add(self, outcome: EventOutcome, began: float) -> None:
        """Count a stored batch; `began` is the event loop's clock when its handling began."""
        self.batches += 1
        self.announcements += outcome.announcements
        self.telemetry += outcome.telemetry
        self.duplicate_acks += outcome.duplicate_acks
        if outcome.acks:
            self.first_ack_at = self.first_ack_at or began
            self.last_ack_at = asyncio.get_running_loop().time()
            self.ack_busy_s += self.last_ack_at - began
            self.acks += outcome.acks


class Dispatcher:
    """The dispatch machinery of one BPP process; `start()` returns at once, NATS may come later."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        bus: DeviceBus,
        *,
        policy: DispatchPolicy,
        reporter: Reporter,
        poll_seconds: float = 1.0,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        event_batch: int = 500,
        plan_batch: int = 20,
        lease: timedelta = timedelta(seconds=30),
    ) -> None:
        self.session_factory = session_factory
        self.bus = bus
        self.policy = policy
        self.reporter = reporter
        self.poll_seconds = poll_seconds
        self.worker_id = worker_id or worker_name()
        self.clock = clock
        self.event_batch = event_batch
        self.plan_batch = plan_batch
        self.lease = lease
        self.publisher = CommandPublisher(
            session_factory,
            bus,
            worker_id=self.worker_id,
            lease=lease,
            on_published=lambda _: self.wake_planner(),
        )
        self.events = EventCounters()
        self.subscription: EventSubscription | None = None
        self.ready = asyncio.Event()
        """Set once NATS is connected, the streams exist and the event consumer is bound."""
        self._plan_wake = asyncio.Event()
        self._publish_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening_since: datetime | None = None
        self._reconnected: asyncio.Event | None = None
        self._next_prune = clock()

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        for name, coroutine in (
            ("connect", self._connect()),
            ("planner", self._planner()),
            ("publisher", self._publisher()),
        ):
            self._tasks.append(asyncio.create_task(coroutine, name=f"dispatch:{name}"))

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        await self.bus.close()

    def wake_planner(self) -> None:
        self._plan_wake.set()

    def wake_publisher(self) -> None:
        self._publish_wake.set()

    async def _connect(self) -> None:
        """Connect (as long as it takes), set up the streams, then consume device events for good."""
        while True:
            try:
                await self.bus.connect(timeout=None)
                await self.bus.ensure_streams()
                self.subscription = await self.bus.subscribe_event_batches(
                    self.on_events, batch=self.event_batch, fetch_timeout=5.0
                )
                await self.subscription.ready()
                break
            except DeviceBusError as exc:
                log.warning("device bus not ready; retrying", extra={"error": str(exc)})
                await asyncio.sleep(max(self.poll_seconds, 1.0))
        self._reconnected = self.bus.connection.reconnect_signal()
        self.ready.set()
        log.info("dispatch connected to NATS", extra={"aggregator": self.bus.layout.aggregator})
        self.wake_planner()
        self.wake_publisher()

    # -- device events -------------------------------------------------------------------------------

    async def on_events(self, events: list[DeviceEvent]) -> None:
        """Store a batch in one transaction; if that fails, one event at a time, dropping the bad ones."""
        began = asyncio.get_running_loop().time()
        now = self.clock()
        try:
            async with unit_of_work(self.session_factory) as session:
                outcome = await handle_events(session, events, bucket=self.policy.metering_interval, now=now)
        except Exception:
            if len(events) == 1:
                raise
            log.exception("a batch of device events failed; storing them one by one")
            outcome = await self._one_by_one(events, now)
        self.events.add(outcome, began)
        if outcome.poked:
            self.wake_planner()

    async def _one_by_one(self, events: list[DeviceEvent], now: datetime) -> EventOutcome:
        total = EventOutcome()
        failures = 0
        for event in events:
            try:
                async with unit_of_work(self.session_factory) as session:
                    outcome = await handle_events(
                        session, [event], bucket=self.policy.metering_interval, now=now
                    )
            except Exception:
                failures += 1
                log.exception("device event dropped", extra={"device_id": event.device_id})
                continue
            total.announcements += outcome.announcements
            total.telemetry += outcome.telemetry
            total.acks += outcome.acks
            total.duplicate_acks += outcome.duplicate_acks
            total.poked |= outcome.poked
        if failures == len(events):
            raise RuntimeError("no device event of the batch could be stored")  # the database is down: retry
        self.events.dropped += failures
        return total

    # -- the planner ---------------------------------------------------------------------------------

    def heard_since(self, now: datetime) -> datetime | None:
        """Since when the BPP has been hearing its devices without a break (connected, consumer bound)."""
        signal = self._reconnected
        listening = (
            self.ready.is_set()
            and self.bus.connection.is_connected
            and self.subscription is not None
            and self.subscription.loop.bound.is_set()
        )
        if signal is not None and signal.is_set():
            self._reconnected = self.bus.connection.reconnect_signal()
            self._listening_since = None
        if not listening:
            self._listening_since = None
            return None
        if self._listening_since is None:
            self._listening_since = now
        return self._listening_since

    async def plan_once(self) -> int:
        """Take in queued tasks, then look at every plan that is due; how many plans were looked at."""
        now = self.clock()
        async with unit_of_work(self.session_factory) as session:
            await service.intake(session, self.policy, now=now)
        async with unit_of_work(self.session_factory) as session:
            claimed = await PlanRepository(session).claim(
                worker_id=self.worker_id, now=now, lease_until=now + self.lease, limit=self.plan_batch
            )
        context = service.TickContext(self.policy, self.reporter, self.heard_since(now))
        for plan in claimed:
            await self._tick(plan.order_id, plan.pokes, context)
        if claimed:
            self.wake_publisher()
        await self._prune(now)
        return len(claimed)

    async def _tick(self, order_id: str, pokes: int, context: service.TickContext) -> None:
        now = self.clock()
        try:
            async with unit_of_work(self.session_factory) as session:
                next_check = await service.tick(session, order_id, context, now=now)
                await PlanRepository(session).finish(
                    order_id, worker_id=self.worker_id, next_check_at=next_check, seen_pokes=pokes, now=now
                )
        except Exception:
            async with unit_of_work(self.session_factory) as session:
                failures = await PlanRepository(session).fail(
                    order_id, worker_id=self.worker_id, retry_at=now + self._backoff()
                )
            log.exception(
                "dispatch tick failed; retrying", extra={"order_id": order_id, "failures": failures}
            )

    def _backoff(self) -> timedelta:
        return max(timedelta(seconds=self.poll_seconds), timedelta(seconds=1))

    async def _prune(self, now: datetime) -> None:
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        async with unit_of_work(self.session_factory) as session:
            removed = await ReadingRepository(session).prune(now - self.policy.telemetry_retention)
        if removed:
            log.info("old telemetry buckets deleted", extra={"buckets": removed})

    async def _planner(self) -> None:
        while True:
            try:
                busy = await self.plan_once() >= self.plan_batch
            except Exception:
                log.exception("dispatch planner failed; retrying")
                busy = False
            if not busy:
                await self._wait(self._plan_wake)

    # -- the publisher -------------------------------------------------------------------------------

    async def _publisher(self) -> None:
        reconnected = self.bus.connection.reconnect_signal()
        while True:
            busy = False
            if reconnected.is_set():
                reconnected = self.bus.connection.reconnect_signal()
                try:
                    await self.publisher.retry_now()
                except Exception:  # noqa: BLE001 - at worst the backoff runs its course
                    log.warning("could not cut the publish backoff short after a reconnect", exc_info=True)
            if self.bus.connection.is_connected:
                try:
                    outcome = await self.publisher.publish_due(self.clock())
                    busy = outcome.claimed >= self.publisher.batch
                except Exception:
                    log.exception("command publisher failed; retrying")
            if not busy:
                await self._wait(self._publish_wake)

    async def _wait(self, wake: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), self.poll_seconds)
        wake.clear()


# -- in the BPP ------------------------------------------------------------------------------------------


def dispatcher_for(settings: BppSettings, runtime: ParticipantRuntime) -> Dispatcher:
    policy = settings.dispatch_policy
    bus = DeviceBus(
        settings.nats_servers,
        settings.aggregator,
        credentials=settings.bus_credentials(),
        name=f"degflex-bpp-{settings.aggregator}",
    )
    reporter = Reporter(runtime.sender, settings, policy.report_ttl)
    return Dispatcher(
        runtime.session_factory,
        bus,
        policy=policy,
        reporter=reporter,
        poll_seconds=settings.dispatch_poll_seconds,
    )


def dispatch_lifespan(settings: BppSettings) -> APIRouter:
    """A router with no routes whose lifespan (inside the runtime's) runs the dispatcher, if NATS is set."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.nats_servers:
            log.warning(
                "no nats_url: this BPP takes orders but does not dispatch them to devices "
                "(set DEGFLEX_BPP_NATS_URL to dispatch)"
            )
            app.state.dispatcher = None
            yield
            return
        dispatcher = dispatcher_for(settings, app.state.runtime)
        app.state.dispatcher = dispatcher
        await dispatcher.start()
        log.info(
            "dispatching to devices over NATS",
            extra={"nats": ", ".join(settings.nats_servers), "aggregator": settings.aggregator},
        )
        try:
            yield
        finally:
            await dispatcher.stop()

    return APIRouter(lifespan=lifespan)
