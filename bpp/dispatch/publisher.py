"""The outbox between the database and NATS: publishes due commands to JetStream and records that it did.

A command row is PENDING until JetStream has stored it. The publisher leases due rows, publishes each
with `Nats-Msg-Id` = command_id, then marks them published in a second short transaction. A crash or
an outage between the two leaves the rows PENDING; they are published again once the lease runs out,
and JetStream's duplicate window stores them once (`duplicate: true`). The device agent's ledger and
its idempotent acks cover what is left: a command is never applied twice. No database transaction is
held open across a publish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bpp.devices.bus import DeviceBus
from bpp.devices.errors import DeviceBusError
from bpp.dispatch.commands import wire_command
from bpp.dispatch.models import DeviceCommand
from bpp.dispatch.repository import CommandRepository, PlanRepository
from participant.app import unit_of_work
from participant.db import utcnow

log = logging.getLogger(__name__)


@dataclass
class PublishRound:
    """What one pass published: how many, how many JetStream already had, which failed, whose orders."""

    published: int = 0
    duplicates: int = 0
    failed: int = 0
    claimed: int = 0
    orders: set[str] = field(default_factory=set)
    began_at: float | None = None
    """The event loop's clock when publishing began, and when the last command was stored (benchmarks)."""
    last_published_at: float | None = None


class CommandPublisher:
    """Publishes PENDING commands once due; any number of replicas may run one."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        bus: DeviceBus,
        *,
        worker_id: str,
        batch: int = 1000,
        concurrency: int = 256,
        lease: timedelta = timedelta(seconds=30),
        max_backoff: timedelta = timedelta(seconds=5),
        on_published: Callable[[set[str]], None] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.bus = bus
        self.worker_id = worker_id
        self.batch = batch
        self.concurrency = concurrency
        self.lease = lease
        self.max_backoff = max_backoff
        self.on_published = on_published
        self.totals = PublishRound()

    async def publish_due(self, now: datetime | None = None) -> PublishRound:
        """One pass: give up on commands whose window is over, then publish a batch of due ones."""
        now = now or utcnow()
        outcome = PublishRound()
        async with unit_of_work(self.session_factory) as session:
            expired = await CommandRepository(session).expire_unsent(now)
            await PlanRepository(session).poke(expired, now)
        outcome.orders.update(expired)
        async with unit_of_work(self.session_factory) as session:
            rows = await CommandRepository(session).claim_due(
                worker_id=self.worker_id, now=now, lease_until=now + self.lease, limit=self.batch
            )
        outcome.claimed = len(rows)
        began = asyncio.get_running_loop().time()
        if rows:
            await self._publish(rows, outcome, now)
        self._count(outcome, began)
        if outcome.orders and self.on_published is not None:
            self.on_published(outcome.orders)
        return outcome

    async def _publish(self, rows: list[DeviceCommand], outcome: PublishRound, started: datetime) -> None:
        gate = asyncio.Semaphore(self.concurrency)
        stored: list[tuple[int, int]] = []
        failed: list[DeviceCommand] = []
        errors: list[str] = []

        async def publish(row: DeviceCommand) -> None:
            async with gate:
                try:
                    result = await self.bus.publish_command(wire_command(row))
                except DeviceBusError as exc:
                    failed.append(row)
                    errors.append(str(exc))
                    return
            stored.append((row.id, result.seq))
            outcome.duplicates += int(result.duplicate)

        await asyncio.gather(*(publish(row) for row in rows))
        now = max(started, utcnow())  # when JetStream had them (the round's clock, if it runs ahead)
        stored_ids = {row_id for row_id, _ in stored}
        published_orders = {row.order_id for row in rows if row.id in stored_ids}
        done: set[str] = set()
        async with unit_of_work(self.session_factory) as session:
            commands = CommandRepository(session)
            await commands.mark_published(stored, worker_id=self.worker_id, now=now)
            if failed:
                attempts = max(row.publish_attempts for row in failed)
                await commands.retry_later(
                    [row.id for row in failed],
                    worker_id=self.worker_id,
                    error=errors[0],
                    retry_at=now + self._backoff(attempts),
                )
            # Only orders with nothing left to publish have news for the planner (DISPATCHED).
            done = published_orders - await commands.with_pending(published_orders)
            await PlanRepository(session).poke(done, now)
        outcome.published = len(stored)
        outcome.failed = len(failed)
        outcome.orders.update(done)
        if failed:
            log.warning(
                "commands not published yet; retrying",
                extra={"failed": len(failed), "published": len(stored), "error": errors[0]},
            )

    async def retry_now(self) -> int:
        """NATS is back: the commands this worker was backing off from go out at the next pass."""
        async with unit_of_work(self.session_factory) as session:
            return await CommandRepository(session).retry_now(worker_id=self.worker_id)

    def _backoff(self, attempts: int) -> timedelta:
        return min(self.max_backoff, timedelta(seconds=0.5 * 2 ** max(0, attempts - 1)))

    def _count(self, outcome: PublishRound, began: float) -> None:
        if outcome.published:
            self.totals.began_at = self.totals.began_at or began
            self.totals.last_published_at = asyncio.get_running_loop().time()
        self.totals.published += outcome.published
        self.totals.duplicates += outcome.duplicates
        self.totals.failed += outcome.failed
        self.totals.claimed += outcome.claimed
