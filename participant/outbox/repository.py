"""All SQL on `outbox` and `outbox_attempts`: leasing due entries, recording attempts, expiring the stale.

Claims are short transactions of their own: a worker never holds a database transaction open across an
HTTP call, so a slow receiver costs a lease, not a lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from participant.db import utcnow
from participant.messagelog.models import MessageRecord
from participant.messagelog.repository import MessageLogRepository
from participant.outbox.models import DeliveryAttempt, OutboxEntry, OutboxStatus


@dataclass(frozen=True)
class ClaimedDelivery:
    """Everything one delivery attempt needs, copied out of the claiming transaction."""

    entry_id: str
    message_record_id: str
    attempt: int
    action: str
    target_url: str
    counterparty: str
    transaction_id: str | None
    message_id: str | None
    body: bytes
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class AttemptRecord:
    """What happened on one attempt, and what the entry becomes because of it."""

    status: OutboxStatus
    started_at: datetime
    finished_at: datetime
    http_status: int | None
    ack_status: str | None
    error_code: str | None
    error_message: str | None
    sent_headers: dict[str, str]
    next_attempt_at: datetime | None = None
    note: str | None = None

    @property
    def duration_ms(self) -> int:
        return max(0, round((self.finished_at - self.started_at).total_seconds() * 1000))


@dataclass(frozen=True)
class ExpiredEntry:
    entry_id: str
    action: str
    target_url: str
    counterparty: str
    transaction_id: str | None
    message_id: str | None
    attempts: int


def _waits_for_an_earlier_message() -> ColumnElement[bool]:
    """Whether an entry has an earlier one still pending to the same URL in the same transaction.

    Messages of one transaction reach a counterparty in the order they were queued: the aggregator's
    COMPLETED and SETTLED on_status are written together, and a retry of the first must not let the
    second overtake it. Only the entry at the head waits out its backoff (an expired head is final, so
    nothing waits forever). Messages without a transaction id are not ordered.
    """
    earlier = aliased(OutboxEntry)
    earlier_record = aliased(MessageRecord)
    this_record = aliased(MessageRecord)
    return (
        select(earlier.id)
        .join(earlier_record, earlier_record.id == earlier.message_record_id)
        .join(this_record, this_record.transaction_id == earlier_record.transaction_id)
        .where(
            this_record.id == OutboxEntry.message_record_id,
            earlier.status == OutboxStatus.PENDING,
            earlier.target_url == OutboxEntry.target_url,
            earlier.created_at < OutboxEntry.created_at,
        )
        .correlate(OutboxEntry)
        .exists()
    )


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(OutboxEntry.lease_until.is_(None), OutboxEntry.lease_until <= now)


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, entry: OutboxEntry) -> None:
        self.session.add(entry)

    async def claim(
        self, *, worker_id: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[ClaimedDelivery]:
        """Lease up to `limit` due entries to `worker_id`, counting the attempt they are claimed for.

        PostgreSQL: candidates are locked with FOR UPDATE SKIP LOCKED, so concurrent workers take
        disjoint rows without waiting. SQLite has one writer at a time: a single UPDATE whose WHERE
        repeats the lease guard is atomic on its own.
        """
        due = and_(
            OutboxEntry.status == OutboxStatus.PENDING,
            OutboxEntry.next_attempt_at <= now,
            OutboxEntry.expires_at > now,
            _lease_free(now),
            ~_waits_for_an_earlier_message(),
        )
        candidates = select(OutboxEntry.id).where(due).order_by(OutboxEntry.next_attempt_at).limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            ids = list(await self.session.scalars(candidates.with_for_update(skip_locked=True)))
            if not ids:
                return []
            chosen: ColumnElement[bool] = OutboxEntry.id.in_(ids)
        else:
            chosen = and_(OutboxEntry.id.in_(candidates), due)
        claimed = await self.session.execute(
            update(OutboxEntry)
            .where(chosen)
            .values(
                lease_owner=worker_id,
                lease_until=lease_until,
                attempts=OutboxEntry.attempts + 1,
                updated_at=now,
            )
            .returning(OutboxEntry.id)
            .execution_options(synchronize_session=False)
        )
        claimed_ids = list(claimed.scalars())
        if not claimed_ids:
            return []
        rows = await self.session.execute(
            select(OutboxEntry, MessageRecord)
            .join(MessageRecord, OutboxEntry.message_record_id == MessageRecord.id)
            .where(OutboxEntry.id.in_(claimed_ids))
            .order_by(OutboxEntry.next_attempt_at)
        )
        return [
            ClaimedDelivery(
                entry_id=entry.id,
                message_record_id=record.id,
                attempt=entry.attempts,
                action=entry.action,
                target_url=entry.target_url,
                counterparty=entry.counterparty,
                transaction_id=record.transaction_id,
                message_id=record.message_id,
                body=record.body,
                headers=dict(record.headers or {}),
                expires_at=entry.expires_at,
            )
            for entry, record in rows
        ]

    async def expire_due(self, *, now: datetime) -> list[ExpiredEntry]:
        """Give up on pending entries whose message is past its `expires_at` without sending them again."""
        expired = await self.session.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.status == OutboxStatus.PENDING, OutboxEntry.expires_at <= now, _lease_free(now)
            )
            .values(
                status=OutboxStatus.EXPIRED,
                lease_owner=None,
                lease_until=None,
                last_error="expired before it could be delivered",
                updated_at=now,
            )
            .returning(OutboxEntry.id)
            .execution_options(synchronize_session=False)
        )
        ids = list(expired.scalars())
        if not ids:
            return []
        rows = await self.session.execute(
            select(OutboxEntry, MessageRecord.transaction_id, MessageRecord.message_id)
            .join(MessageRecord, OutboxEntry.message_record_id == MessageRecord.id)
            .where(OutboxEntry.id.in_(ids))
        )
        return [
            ExpiredEntry(
                entry_id=entry.id,
                action=entry.action,
                target_url=entry.target_url,
                counterparty=entry.counterparty,
                transaction_id=transaction_id,
                message_id=message_id,
                attempts=entry.attempts,
            )
            for entry, transaction_id, message_id in rows
        ]

    async def expire_claimed(self, claim: ClaimedDelivery, *, worker_id: str, now: datetime) -> bool:
        """The entry expired between its claim and its send: give it up without counting an attempt."""
        result = await self.session.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.id == claim.entry_id,
                OutboxEntry.status == OutboxStatus.PENDING,
                OutboxEntry.lease_owner == worker_id,
                OutboxEntry.attempts == claim.attempt,
            )
            .values(
                status=OutboxStatus.EXPIRED,
                attempts=OutboxEntry.attempts - 1,
                lease_owner=None,
                lease_until=None,
                last_error="expired before it could be delivered",
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return cast(CursorResult[Any], result).rowcount == 1

    async def finish(self, claim: ClaimedDelivery, *, worker_id: str, result: AttemptRecord) -> bool:
        """Record the attempt and move the entry on; False when the lease was lost meanwhile.

        A delivery is recorded even without the lease (the receiver has the message); any other result
        only counts while this worker still holds the lease it claimed the attempt with.
        """
        self.session.add(
            DeliveryAttempt(
                outbox_id=claim.entry_id,
                attempt=claim.attempt,
                started_at=result.started_at,
                finished_at=result.finished_at,
                http_status=result.http_status,
                ack_status=result.ack_status,
                error_code=result.error_code,
                error_message=result.error_message,
                authorization=result.sent_headers.get("authorization"),
                duration_ms=result.duration_ms,
            )
        )
        await self.session.flush()
        values: dict[str, Any] = {
            "status": result.status,
            "lease_owner": None,
            "lease_until": None,
            "http_status": result.http_status,
            "ack_status": result.ack_status,
            "error_code": result.error_code,
            "last_error": result.note or result.error_message,
            "updated_at": result.finished_at,
        }
        if result.status is OutboxStatus.DELIVERED:
            values["delivered_at"] = result.finished_at
        if result.next_attempt_at is not None:
            values["next_attempt_at"] = result.next_attempt_at
        conditions = [OutboxEntry.id == claim.entry_id, OutboxEntry.status == OutboxStatus.PENDING]
        if result.status is not OutboxStatus.DELIVERED:
            conditions += [OutboxEntry.lease_owner == worker_id, OutboxEntry.attempts == claim.attempt]
        updated = await self.session.execute(
            update(OutboxEntry).where(*conditions).values(values).execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], updated).rowcount != 1:
            return False
        await MessageLogRepository(self.session).record_delivery(
            claim.message_record_id,
            headers=result.sent_headers,
            http_status=result.http_status,
            ack_status=result.ack_status,
            error_code=result.error_code,
            error_message=result.error_message,
        )
        return True

    async def fail(self, entry_id: str, *, worker_id: str, error: str) -> bool:
        """Park an entry that hit a bug in delivery (FAILED, with the error) so it is not retried blindly."""
        now = utcnow()
        updated = await self.session.execute(
            update(OutboxEntry)
            .where(
                OutboxEntry.id == entry_id,
                OutboxEntry.status == OutboxStatus.PENDING,
                OutboxEntry.lease_owner == worker_id,
            )
            .values(
                status=OutboxStatus.FAILED,
                lease_owner=None,
                lease_until=None,
                last_error=error,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        return cast(CursorResult[Any], updated).rowcount == 1

    async def release(self, *, worker_id: str) -> int:
        """Hand back every lease this worker still holds (on shutdown), so others need not wait them out."""
        released = await self.session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.lease_owner == worker_id, OutboxEntry.status == OutboxStatus.PENDING)
            .values(lease_owner=None, lease_until=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return cast(CursorResult[Any], released).rowcount

    async def get(self, entry_id: str) -> OutboxEntry | None:
        return await self.session.get(OutboxEntry, entry_id)

    async def attempts(self, entry_id: str) -> list[DeliveryAttempt]:
        query = (
            select(DeliveryAttempt)
            .where(DeliveryAttempt.outbox_id == entry_id)
            .order_by(DeliveryAttempt.attempt)
        )
        return list(await self.session.scalars(query))

    async def for_message(self, message_record_id: str) -> OutboxEntry | None:
        return await self.session.scalar(
            select(OutboxEntry).where(OutboxEntry.message_record_id == message_record_id)
        )
