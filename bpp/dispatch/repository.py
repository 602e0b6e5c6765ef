"""All SQL on dispatch plans, device commands, acks and device participation.

Claims follow the outbox's pattern: a short transaction leases rows to one worker. On PostgreSQL the
candidates are picked with FOR UPDATE SKIP LOCKED, so replicas take disjoint rows without waiting; on
SQLite (one writer at a time) a single UPDATE whose WHERE repeats the lease guard is atomic on its own.
A lease that runs out (a crashed worker) makes the rows claimable again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bpp.dispatch.models import (
    LIVE_STATUSES,
    OPEN_STATUSES,
    CommandAck,
    CommandStatus,
    DeviceCommand,
    DeviceParticipation,
    DispatchPlan,
    PlanPhase,
)
from schemas.devices import AckStatus, CommandKind

CHUNK = 500
"""Ids per IN (…) list: well below SQLite's and asyncpg's parameter limits."""


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


def is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert_ignoring_duplicates(session: AsyncSession, table: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING in the session's dialect."""
    dialect = postgresql if is_postgresql(session) else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def upsert(session: AsyncSession, table: Any) -> Any:
    """INSERT … ON CONFLICT in the session's dialect (the caller adds `on_conflict_do_update`)."""
    dialect = postgresql if is_postgresql(session) else sqlite
    return dialect.insert(table)


def _lease_free(model: type[DispatchPlan] | type[DeviceCommand], now: datetime) -> ColumnElement[bool]:
    return or_(model.lease_until.is_(None), model.lease_until <= now)


@dataclass(frozen=True)
class ClaimedPlan:
    order_id: str
    pokes: int


class PlanRepository:
    """Reads and writes plans in the caller's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, order_id: str) -> DispatchPlan | None:
        statement = (
            select(DispatchPlan)
            .where(DispatchPlan.order_id == order_id)
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def many(self, order_ids: Collection[str]) -> dict[str, DispatchPlan]:
        found: dict[str, DispatchPlan] = {}
        for part in chunks(sorted(order_ids)):
            rows = await self.session.scalars(select(DispatchPlan).where(DispatchPlan.order_id.in_(part)))
            found.update({plan.order_id: plan for plan in rows})
        return found

    async def add(self, plan: DispatchPlan) -> DispatchPlan:
        self.session.add(plan)
        await self.session.flush()
        return plan

    async def flush(self) -> None:
        await self.session.flush()

    async def claim(
        self, *, worker_id: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[ClaimedPlan]:
        """Lease plans due for a look (not DONE, `next_check_at` passed) to `worker_id`."""
        due = and_(
            DispatchPlan.phase != PlanPhase.DONE,
            DispatchPlan.next_check_at <= now,
            _lease_free(DispatchPlan, now),
        )
        candidates = (
            select(DispatchPlan.order_id).where(due).order_by(DispatchPlan.next_check_at).limit(limit)
        )
        if is_postgresql(self.session):
            ids = list(await self.session.scalars(candidates.with_for_update(skip_locked=True)))
            if not ids:
                return []
            chosen: ColumnElement[bool] = DispatchPlan.order_id.in_(ids)
        else:
            chosen = and_(DispatchPlan.order_id.in_(candidates), due)
        claimed = await self.session.execute(
            update(DispatchPlan)
            .where(chosen)
            .values(lease_owner=worker_id, lease_until=lease_until)
            .returning(DispatchPlan.order_id, DispatchPlan.pokes)
            .execution_options(synchronize_session=False)
        )
        return [ClaimedPlan(order_id, pokes) for order_id, pokes in claimed.all()]

    async def finish(
        self, order_id: str, *, worker_id: str, next_check_at: datetime, seen_pokes: int, now: datetime
    ) -> None:
        """Let go of the lease; if something poked the plan meanwhile, look again at once."""
        await self.session.execute(
            update(DispatchPlan)
            .where(DispatchPlan.order_id == order_id, DispatchPlan.lease_owner == worker_id)
            .values(
                lease_owner=None,
                lease_until=None,
                failures=0,
                next_check_at=case((DispatchPlan.pokes == seen_pokes, next_check_at), else_=now),
            )
            .execution_options(synchronize_session=False)
        )

    async def fail(self, order_id: str, *, worker_id: str, retry_at: datetime) -> int:
        """Let go after an error, to try again at `retry_at`; the number of failures in a row."""
        result = await self.session.execute(
            update(DispatchPlan)
            .where(DispatchPlan.order_id == order_id, DispatchPlan.lease_owner == worker_id)
            .values(
                lease_owner=None,
                lease_until=None,
                failures=DispatchPlan.failures + 1,
                next_check_at=retry_at,
            )
            .returning(DispatchPlan.failures)
            .execution_options(synchronize_session=False)
        )
        return int(result.scalar_one_or_none() or 0)

    async def poke(self, order_ids: Collection[str], now: datetime) -> None:
        """Make the dispatcher look at these plans now (in the order of their ids, against deadlocks)."""
        for part in chunks(sorted(order_ids)):
            await self.session.execute(
                update(DispatchPlan)
                .where(DispatchPlan.order_id.in_(part), DispatchPlan.phase != PlanPhase.DONE)
                .values(
                    pokes=DispatchPlan.pokes + 1,
                    next_check_at=case(
                        (DispatchPlan.next_check_at > now, now), else_=DispatchPlan.next_check_at
                    ),
                )
                .execution_options(synchronize_session=False)
            )


@dataclass(frozen=True)
class StatusTotal:
    status: CommandStatus
    count: int
    kw: Decimal


class CommandRepository:
    """Reads and writes device commands in the caller's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_all(self, commands: Sequence[DeviceCommand]) -> None:
        """Insert new commands (in their order: ids follow it) in one batched statement.

        The objects stay out of the session; read the rows back when their ids are needed.
        """
        if not commands:
            return
        table = cast(Table, DeviceCommand.__table__)
        names = [column.key for column in table.columns if column.key != "id"]
        rows = [{name: getattr(command, name) for name in names} for command in commands]
        await self.session.execute(table.insert(), rows)

    async def of_order(
        self,
        order_id: str,
        *,
        statuses: Collection[CommandStatus] | None = None,
        include_releases: bool = False,
    ) -> Sequence[DeviceCommand]:
        statement = self._of_order(order_id, include_releases).order_by(DeviceCommand.id)
        if statuses is not None:
            statement = statement.where(DeviceCommand.status.in_(list(statuses)))
        return (await self.session.scalars(statement)).all()

    def _of_order(self, order_id: str, include_releases: bool) -> Select[DeviceCommand]:
        statement = (
            select(DeviceCommand)
            .where(DeviceCommand.order_id == order_id)
            .execution_options(populate_existing=True)
        )
        if not include_releases:
            statement = statement.where(DeviceCommand.kind != CommandKind.RELEASE)
        return statement

    async def by_command_ids(self, command_ids: Collection[str]) -> dict[str, DeviceCommand]:
        found: dict[str, DeviceCommand] = {}
        for part in chunks(sorted(command_ids)):
            rows = await self.session.scalars(
                select(DeviceCommand)
                .where(DeviceCommand.command_id.in_(part))
                .execution_options(populate_existing=True)
            )
            found.update({row.command_id: row for row in rows})
        return found

    async def totals(self, order_id: str) -> list[StatusTotal]:
        """Count and kW per status of an order's commands (RELEASEs left out)."""
        rows = await self.session.execute(
            select(DeviceCommand.status, func.count(), func.coalesce(func.sum(DeviceCommand.setpoint_kw), 0))
            .where(DeviceCommand.order_id == order_id, DeviceCommand.kind != CommandKind.RELEASE)
            .group_by(DeviceCommand.status)
        )
        return [
            StatusTotal(CommandStatus(status), count, Decimal(kw or 0)) for status, count, kw in rows.all()
        ]

    async def waiting(self, order_id: str) -> int:
        """Commands of the order (RELEASEs included) that JetStream does not have yet."""
        result = await self.session.scalar(
            select(func.count())
            .select_from(DeviceCommand)
            .where(DeviceCommand.order_id == order_id, DeviceCommand.status == CommandStatus.PENDING)
        )
        return int(result or 0)

    async def devices_of(self, order_id: str) -> set[str]:
        """Every device ever asked to deliver for the order."""
        rows = await self.session.scalars(
            select(DeviceCommand.device_id)
            .where(DeviceCommand.order_id == order_id, DeviceCommand.kind != CommandKind.RELEASE)
            .distinct()
        )
        return set(rows)

    async def busy(self, *, start: datetime, end: datetime, other_than: str) -> set[str]:
        """Devices with a live command of another order overlapping [start, end): one command at a time."""
        rows = await self.session.scalars(
            select(DeviceCommand.device_id)
            .where(
                DeviceCommand.order_id != other_than,
                DeviceCommand.kind != CommandKind.RELEASE,
                DeviceCommand.status.in_(LIVE_STATUSES),
                DeviceCommand.start < end,
                DeviceCommand.end > start,
            )
            .distinct()
        )
        return set(rows)

    async def any_started(self, order_id: str) -> bool:
        statement = select(
            exists().where(
                DeviceCommand.order_id == order_id,
                DeviceCommand.kind != CommandKind.RELEASE,
                DeviceCommand.started_at.is_not(None),
            )
        )
        return bool(await self.session.scalar(statement))

    async def event_days(self, device_ids: Collection[str], *, before: datetime) -> dict[str, set[date]]:
        """UTC days on which each device ran an earlier event (left out of its X-of-Y baseline)."""
        days: dict[str, set[date]] = {}
        for part in chunks(sorted(device_ids)):
            rows = await self.session.execute(
                select(DeviceCommand.device_id, DeviceCommand.start).where(
                    DeviceCommand.device_id.in_(part),
                    DeviceCommand.started_at.is_not(None),
                    DeviceCommand.start < before,
                )
            )
            for device_id, start in rows.all():
                days.setdefault(device_id, set()).add(start.date())
        return days

    async def set_status(
        self,
        ids: Collection[int],
        status: CommandStatus,
        *,
        now: datetime,
        only_from: Collection[CommandStatus],
        unleased: bool = False,
        reason: str | None = None,
    ) -> list[int]:
        """Move commands to `status` if they still are in one of `only_from`; the ids that moved."""
        moved: list[int] = []
        for part in chunks(sorted(ids)):
            conditions: list[ColumnElement[bool]] = [
                DeviceCommand.id.in_(part),
                DeviceCommand.status.in_(list(only_from)),
            ]
            if unleased:
                conditions.append(_lease_free(DeviceCommand, now))
            values: dict[str, Any] = {"status": status, "updated_at": now}
            if reason is not None:
                values["reason"] = reason
            result = await self.session.execute(
                update(DeviceCommand)
                .where(*conditions)
                .values(values)
                .returning(DeviceCommand.id)
                .execution_options(synchronize_session=False)
            )
            moved.extend(result.scalars())
        return moved

    async def silent(self, order_id: str, *, cutoff: datetime) -> Sequence[DeviceCommand]:
        """Commands waiting for their device since `cutoff` or before: published and not heard of, or
        received and not started although their start (and the last word) is that old."""
        statement = self._of_order(order_id, False).where(
            or_(
                and_(DeviceCommand.status == CommandStatus.PUBLISHED, DeviceCommand.published_at <= cutoff),
                and_(
                    DeviceCommand.status == CommandStatus.RECEIVED,
                    DeviceCommand.start <= cutoff,
                    func.coalesce(DeviceCommand.last_ack_at, DeviceCommand.start) <= cutoff,
                ),
            )
        )
        return (await self.session.scalars(statement.order_by(DeviceCommand.id))).all()

    async def oldest_wait(self, order_id: str) -> datetime | None:
        """Since when the longest-waiting command has waited for its device (see `silent`)."""
        received_since = case(
            (DeviceCommand.last_ack_at > DeviceCommand.start, DeviceCommand.last_ack_at),
            else_=DeviceCommand.start,
        )
        waited_since = case(
            (DeviceCommand.status == CommandStatus.PUBLISHED, DeviceCommand.published_at),
            else_=received_since,
        )
        result = await self.session.scalar(
            select(func.min(waited_since)).where(
                DeviceCommand.order_id == order_id,
                DeviceCommand.kind != CommandKind.RELEASE,
                DeviceCommand.status.in_([CommandStatus.PUBLISHED, CommandStatus.RECEIVED]),
            )
        )
        return _aware(result)

    async def with_pending(self, order_ids: Collection[str]) -> set[str]:
        """Those of the orders that still have commands JetStream does not have."""
        found: set[str] = set()
        for part in chunks(sorted(order_ids)):
            rows = await self.session.scalars(
                select(DeviceCommand.order_id)
                .where(DeviceCommand.order_id.in_(part), DeviceCommand.status == CommandStatus.PENDING)
                .distinct()
            )
            found.update(rows)
        return found

    # -- the NATS outbox -------------------------------------------------------------------------------

    async def claim_due(
        self, *, worker_id: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[DeviceCommand]:
        """Lease commands due for publishing. Within an order, a device's commands go out in the order
        they were made (a RELEASE before the command replacing what it released): a command waits while
        an earlier one of its device and order is unpublished and PENDING, or in a publisher's hands."""
        earlier = aliased(DeviceCommand)
        first_of_device = ~exists().where(
            earlier.order_id == DeviceCommand.order_id,
            earlier.device_id == DeviceCommand.device_id,
            earlier.id < DeviceCommand.id,
            earlier.published_at.is_(None),
            or_(earlier.status == CommandStatus.PENDING, earlier.lease_until > now),
        )
        due = and_(
            DeviceCommand.status == CommandStatus.PENDING,
            DeviceCommand.publish_at <= now,
            _lease_free(DeviceCommand, now),
            first_of_device,
        )
        candidates = (
            select(DeviceCommand.id)
            .where(due)
            .order_by(DeviceCommand.publish_at, DeviceCommand.id)
            .limit(limit)
        )
        if is_postgresql(self.session):
            locked = candidates.with_for_update(skip_locked=True, of=DeviceCommand)
            ids = list(await self.session.scalars(locked))
            if not ids:
                return []
            chosen: ColumnElement[bool] = DeviceCommand.id.in_(ids)
        else:
            chosen = and_(DeviceCommand.id.in_(candidates), due)
        claimed = await self.session.execute(
            update(DeviceCommand)
            .where(chosen)
            .values(
                lease_owner=worker_id,
                lease_until=lease_until,
                publish_attempts=DeviceCommand.publish_attempts + 1,
            )
            .returning(DeviceCommand.id)
            .execution_options(synchronize_session=False)
        )
        claimed_ids = list(claimed.scalars())
        if not claimed_ids:
            return []
        rows = await self.session.scalars(
            select(DeviceCommand)
            .where(DeviceCommand.id.in_(claimed_ids))
            .order_by(DeviceCommand.id)
            .execution_options(populate_existing=True)
        )
        return list(rows)

    async def mark_published(
        self, published: Sequence[tuple[int, int]], *, worker_id: str, now: datetime
    ) -> None:
        """JetStream stored these (id, stream sequence): no longer PENDING, unless an ack got there first."""
        if not published:
            return
        table = cast(Table, DeviceCommand.__table__)
        statement = (
            update(table)
            .where(table.c.id == bindparam("row_id"), table.c.published_at.is_(None))
            .values(
                published_at=now,
                stream_seq=bindparam("seq"),
                status=case(
                    (table.c.status == CommandStatus.PENDING, CommandStatus.PUBLISHED),
                    else_=table.c.status,
                ),
                lease_owner=None,
                lease_until=None,
                last_error=None,
                updated_at=now,
            )
        )
        await self.session.execute(statement, [{"row_id": row_id, "seq": seq} for row_id, seq in published])

    async def retry_later(
        self, ids: Collection[int], *, worker_id: str, error: str, retry_at: datetime
    ) -> None:
        """Publishing failed: keep the commands PENDING and leased until `retry_at` (the backoff)."""
        for part in chunks(sorted(ids)):
            await self.session.execute(
                update(DeviceCommand)
                .where(DeviceCommand.id.in_(part), DeviceCommand.lease_owner == worker_id)
                .values(lease_until=retry_at, last_error=error[:500])
                .execution_options(synchronize_session=False)
            )

    async def retry_now(self, *, worker_id: str) -> int:
        """Drop the backoff of this worker's commands that failed to publish; how many there were."""
        result = await self.session.execute(
            update(DeviceCommand)
            .where(
                DeviceCommand.lease_owner == worker_id,
                DeviceCommand.status == CommandStatus.PENDING,
                DeviceCommand.last_error.is_not(None),
            )
            .values(lease_owner=None, lease_until=None)
            .returning(DeviceCommand.id)
            .execution_options(synchronize_session=False)
        )
        return len(result.all())

    async def expire_unsent(self, now: datetime) -> list[str]:
        """Commands whose window ended before they could be published are never sent; their orders."""
        result = await self.session.execute(
            update(DeviceCommand)
            .where(
                DeviceCommand.status == CommandStatus.PENDING,
                DeviceCommand.end <= now,
                _lease_free(DeviceCommand, now),
            )
            .values(
                status=CommandStatus.EXPIRED,
                reason="the window ended before the command could be published",
                updated_at=now,
            )
            .returning(DeviceCommand.order_id)
            .execution_options(synchronize_session=False)
        )
        return sorted(set(result.scalars()))

    async def pending_count(self) -> int:
        result = await self.session.scalar(
            select(func.count())
            .select_from(DeviceCommand)
            .where(DeviceCommand.status == CommandStatus.PENDING)
        )
        return int(result or 0)

    async def open_count(self, order_id: str) -> int:
        """Commands of the order that have not ended yet (RELEASEs left out)."""
        result = await self.session.scalar(
            select(func.count())
            .select_from(DeviceCommand)
            .where(
                DeviceCommand.order_id == order_id,
                DeviceCommand.kind != CommandKind.RELEASE,
                DeviceCommand.status.in_(OPEN_STATUSES),
            )
        )
        return int(result or 0)


class AckRepository:
    """The acks heard, once each by (command_id, status)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_new(self, acks: Sequence[dict[str, Any]]) -> set[tuple[str, AckStatus]]:
        """Insert acks not seen before; the (command_id, status) pairs that were new."""
        if not acks:
            return set()
        table = cast(Table, CommandAck.__table__)
        statement = insert_ignoring_duplicates(self.session, table).returning(
            table.c.command_id, table.c.status
        )
        result = await self.session.execute(statement, list(acks))
        return {(command_id, AckStatus(status)) for command_id, status in result.all()}

    async def of_commands(self, command_ids: Collection[str]) -> list[CommandAck]:
        found: list[CommandAck] = []
        for part in chunks(sorted(command_ids)):
            rows = await self.session.scalars(select(CommandAck).where(CommandAck.command_id.in_(part)))
            found.extend(rows)
        return found


class ParticipationRepository:
    """How often and how recently each device was called."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of(self, device_ids: Collection[str]) -> dict[str, DeviceParticipation]:
        found: dict[str, DeviceParticipation] = {}
        for part in chunks(sorted(device_ids)):
            rows = await self.session.scalars(
                select(DeviceParticipation)
                .where(DeviceParticipation.device_id.in_(part))
                .execution_options(populate_existing=True)
            )
            found.update({row.device_id: row for row in rows})
        return found

    async def record(
        self,
        device_ids: Collection[str],
        *,
        called_at: datetime | None = None,
        opt_outs: bool = False,
        failures: bool = False,
    ) -> None:
        """Count a call (with its time), an opt-out or a failure for each device, creating rows as needed."""
        rows = [
            {
                "device_id": device_id,
                "calls": 1 if called_at is not None else 0,
                "last_called_at": called_at,
                "opt_outs": 1 if opt_outs else 0,
                "failures": 1 if failures else 0,
            }
            for device_id in sorted(device_ids)
        ]
        if not rows:
            return
        table = cast(Any, DeviceParticipation.__table__)
        statement = upsert(self.session, table)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.device_id],
            set_={
                "calls": table.c.calls + excluded.calls,
                "last_called_at": func.coalesce(excluded.last_called_at, table.c.last_called_at),
                "opt_outs": table.c.opt_outs + excluded.opt_outs,
                "failures": table.c.failures + excluded.failures,
            },
        )
        await self.session.execute(statement, rows)


def _aware(value: object) -> datetime | None:
    """An aggregate over a UTC column comes back without the column's type (naive, or text on SQLite)."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
