"""The desk's clock: closes collection windows and acts on late callbacks, whatever process set them.

Deadlines live in the database (`collect_until`, `step_deadline`), so a restart or another replica picks
them up; each is handled in its own transaction, and state changes are conditional, so two replicas
acting on one deadline change it once. The loop sleeps until the next deadline or until woken.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bap.desk import Desk
from bap.events.repository import EventRepository
from bap.events.service import close_collection
from bap.orders.repository import OrderRepository
from bap.orders.service import delivery_failed, step_timeout
from participant.app import unit_of_work
from participant.db import utcnow
from participant.outbox import OutboxStatus
from participant.outbox.worker import DeliveryOutcome

log = logging.getLogger(__name__)


class DeadlineScheduler:
    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Look at the deadlines now; safe from any thread (after-commit hooks may run anywhere)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="bap-deadlines")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                next_due = await self.run_once()
            except Exception:
                log.exception("the deadline scheduler failed; trying again after the poll interval")
                next_due = None
            timeout = self.desk.settings.scheduler_poll_seconds
            if next_due is not None:
                timeout = min(timeout, max((next_due - utcnow()).total_seconds(), 0.0) + 0.005)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            except TimeoutError:
                pass

    async def run_once(self) -> datetime | None:
        """Handle every deadline that has passed; return the next one."""
        now = utcnow()
        async with unit_of_work(self.desk.session_factory) as session:
            closing = await EventRepository(session).due_for_close(now)
            late = await OrderRepository(session).due_steps(now)
        for event_id in closing:
            await self._each(close_collection, event_id)
        for order_id in late:
            await self._each(step_timeout, order_id)
        async with unit_of_work(self.desk.session_factory) as session:
            deadlines = [
                await EventRepository(session).next_close(),
                await OrderRepository(session).next_step_deadline(),
            ]
        return min((d for d in deadlines if d is not None), default=None)

    async def _each(self, handle: Callable[[AsyncSession, Desk, str], Awaitable[None]], target: str) -> None:
        try:
            async with unit_of_work(self.desk.session_factory) as session:
                await handle(session, self.desk, target)
        except Exception:
            log.exception("%s failed for %s", handle.__name__, target)


def outcome_hook(desk: Desk) -> Callable[[DeliveryOutcome], Awaitable[None]]:
    """The outbox's report on each delivery: a refused or undeliverable request of ours is acted on."""

    async def on_outcome(outcome: DeliveryOutcome) -> None:
        if not outcome.final or outcome.status is OutboxStatus.DELIVERED:
            return
        async with unit_of_work(desk.session_factory) as session:
            await delivery_failed(session, desk, outcome)

    return on_outcome
