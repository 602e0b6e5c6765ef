"""Queue a signed Beckn message for delivery as part of the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from participant.db import after_commit, utcnow
from participant.messagelog.repository import MessageLogRepository
from participant.outbox.models import OutboxEntry, OutboxStatus
from participant.outbox.repository import OutboxRepository

_last_queued_at: datetime | None = None


def _queued_at() -> datetime:
    """Now, but always after the previous entry this process queued: entries queued one after the other
    (often in one transaction, within a microsecond) keep their order for the ordered delivery per
    transaction (`OutboxRepository.claim`)."""
    global _last_queued_at
    now = utcnow()
    if _last_queued_at is not None and now <= _last_queued_at:
        now = _last_queued_at + timedelta(microseconds=1)
    _last_queued_at = now
    return now


async def enqueue(
    session: AsyncSession,
    *,
    action: str,
    body: bytes,
    target_url: str,
    counterparty: str,
    transaction_id: str | None,
    message_id: str | None,
    bap_id: str | None,
    bpp_id: str | None,
    expires_at: datetime,
    headers: Mapping[str, str] | None = None,
    wake: Callable[[], None] | None = None,
) -> OutboxEntry:
    """Write the outbound message record and its outbox entry; nothing is sent before the commit.

    `body` is stored and later sent byte for byte (the worker signs exactly these bytes). `headers` are
    extra request headers to send with it (the signature headers are added at send time). `wake` runs
    once the caller's transaction commits, so a worker picks the entry up without waiting for its poll;
    on rollback it never runs and the entry never existed.
    """
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    extra_headers = {name.lower(): value for name, value in (headers or {}).items()}
    extra_headers.setdefault("content-type", "application/json")
    record = await MessageLogRepository(session).record_outbound(
        action=action,
        body=body,
        headers=extra_headers,
        url=target_url,
        counterparty=counterparty,
        transaction_id=transaction_id,
        message_id=message_id,
        bap_id=bap_id,
        bpp_id=bpp_id,
    )
    now = _queued_at()
    entry = OutboxEntry(
        message_record_id=record.id,
        message=record,
        action=action,
        target_url=target_url,
        counterparty=counterparty,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
    )
    OutboxRepository(session).add(entry)
    await session.flush()
    if wake is not None:
        after_commit(session, wake)
    return entry
