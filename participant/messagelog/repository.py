"""All SQL on `beckn_messages`: recording what was received and sent, the inbox queue, and look-ups."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from participant.db import new_id, utcnow
from participant.errors import ParticipantError
from participant.messagelog.models import Direction, MessageRecord, ProcessingState


class DuplicateMessage(ParticipantError):
    """This sender's message_id was accepted before: a replay or a retry of something already handled."""

    def __init__(self, counterparty: str, message_id: str) -> None:
        super().__init__(f"message {message_id!r} from {counterparty!r} was already received")
        self.counterparty = counterparty
        self.message_id = message_id


class MessageNotFound(ParticipantError):
    """No message record has this id."""


def dedupe_key(counterparty: str, message_id: str) -> str:
    return f"{counterparty}|{message_id}"


# Built once, executed with the row as parameters: a statement holding its values would be built and
# cache-keyed again for every message.
_INSERT_UNLESS_DUPLICATE: dict[str, Any] = {
    "postgresql": postgresql.insert(MessageRecord)
    .on_conflict_do_nothing(index_elements=[MessageRecord.dedupe_key])
    .returning(MessageRecord),
    "sqlite": sqlite.insert(MessageRecord)
    .on_conflict_do_nothing(index_elements=[MessageRecord.dedupe_key])
    .returning(MessageRecord),
}


class MessageLogRepository:
    """Reads and writes message records in the caller's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record_inbound(
        self,
        *,
        action: str,
        body: bytes,
        headers: Mapping[str, str],
        url: str,
        counterparty: str | None,
        transaction_id: str | None,
        message_id: str | None,
        bap_id: str | None,
        bpp_id: str | None,
        signature_verdict: str | None,
        http_status: int | None,
        ack_status: str | None,
        error_code: str | None = None,
        error_message: str | None = None,
        accepted: bool,
    ) -> MessageRecord:
        """Log a received message; an accepted one also enters the inbox, once per (sender, message_id).

        Raises DuplicateMessage when that sender's message_id was accepted before. The check is the
        UNIQUE constraint itself (INSERT … ON CONFLICT DO NOTHING), so two replicas racing on the same
        message cannot both accept it, and the session stays usable after a duplicate.
        """
        values: dict[str, Any] = {
            "id": new_id(),
            "direction": Direction.INBOUND,
            "action": action,
            "transaction_id": transaction_id,
            "message_id": message_id,
            "counterparty": counterparty,
            "bap_id": bap_id,
            "bpp_id": bpp_id,
            "url": url,
            "body": body,
            "headers": dict(headers),
            "signature_verdict": signature_verdict,
            "http_status": http_status,
            "ack_status": ack_status,
            "error_code": error_code,
            "error_message": error_message,
        }
        if not accepted:
            record = MessageRecord(**values)
            self.session.add(record)
            await self.session.flush()
            return record
        if not counterparty or not message_id:
            raise ValueError("an accepted message needs its sender and message_id")
        values["dedupe_key"] = dedupe_key(counterparty, message_id)
        values["processing_state"] = ProcessingState.PENDING
        now = utcnow()
        values["created_at"] = values["updated_at"] = now
        statement = _INSERT_UNLESS_DUPLICATE[self.session.get_bind().dialect.name]
        result = await self.session.scalars(statement, [values])
        accepted_record: MessageRecord | None = result.one_or_none()
        if accepted_record is None:
            raise DuplicateMessage(counterparty, message_id)
        return accepted_record

    async def record_outbound(
        self,
        *,
        action: str,
        body: bytes,
        headers: Mapping[str, str],
        url: str,
        counterparty: str,
        transaction_id: str | None,
        message_id: str | None,
        bap_id: str | None,
        bpp_id: str | None,
    ) -> MessageRecord:
        """Log a message about to be sent; delivery results are added by `record_delivery`."""
        record = MessageRecord(
            id=new_id(),
            direction=Direction.OUTBOUND,
            action=action,
            transaction_id=transaction_id,
            message_id=message_id,
            counterparty=counterparty,
            bap_id=bap_id,
            bpp_id=bpp_id,
            url=url,
            body=body,
            headers=dict(headers),
        )
        self.session.add(record)
        await self.session.flush()
        return record

    async def record_delivery(
        self,
        record_id: str,
        *,
        headers: Mapping[str, str],
        http_status: int | None,
        ack_status: str | None,
        error_code: str | None,
        error_message: str | None,
    ) -> None:
        """What the last delivery attempt sent (signed headers) and what the receiver answered."""
        await self.session.execute(
            update(MessageRecord)
            .where(MessageRecord.id == record_id)
            .values(
                headers=dict(headers),
                signature_verdict="signed",
                http_status=http_status,
                ack_status=ack_status,
                error_code=error_code,
                error_message=error_message,
                updated_at=utcnow(),
            )
        )

    async def is_duplicate(self, counterparty: str, message_id: str) -> bool:
        """Was this sender's message_id accepted before? (A hint; `record_inbound` is the authority.)"""
        query = select(exists().where(MessageRecord.dedupe_key == dedupe_key(counterparty, message_id)))
        return bool(await self.session.scalar(query))

    async def get(self, record_id: str) -> MessageRecord | None:
        return await self.session.get(MessageRecord, record_id)

    async def pending_inbound(self, limit: int = 100) -> list[MessageRecord]:
        """Accepted inbound messages not yet handled, oldest first."""
        query = (
            select(MessageRecord)
            .where(
                MessageRecord.processing_state == ProcessingState.PENDING,
                MessageRecord.direction == Direction.INBOUND,
            )
            .order_by(MessageRecord.created_at, MessageRecord.id)
            .limit(limit)
        )
        return list(await self.session.scalars(query))

    async def mark_processed(self, record_id: str, error: str | None = None) -> None:
        """DONE, or FAILED with the handler's error."""
        now = utcnow()
        result = await self.session.execute(
            update(MessageRecord)
            .where(MessageRecord.id == record_id)
            .values(
                processing_state=ProcessingState.DONE if error is None else ProcessingState.FAILED,
                processing_error=error,
                processed_at=now,
                updated_at=now,
            )
        )
        if cast(CursorResult[Any], result).rowcount == 0:
            raise MessageNotFound(f"no message record {record_id!r}")

    async def for_transaction(self, transaction_id: str) -> list[MessageRecord]:
        """Everything exchanged in one Beckn transaction, in the order it was recorded."""
        query = (
            select(MessageRecord)
            .where(MessageRecord.transaction_id == transaction_id)
            .order_by(MessageRecord.created_at, MessageRecord.id)
        )
        return list(await self.session.scalars(query))

    async def search(
        self,
        *,
        direction: Direction | None = None,
        action: str | None = None,
        counterparty: str | None = None,
        transaction_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[MessageRecord]:
        """Newest first, filtered by any combination of the arguments."""
        query = select(MessageRecord)
        if direction is not None:
            query = query.where(MessageRecord.direction == direction)
        if action is not None:
            query = query.where(MessageRecord.action == action)
        if counterparty is not None:
            query = query.where(MessageRecord.counterparty == counterparty)
        if transaction_id is not None:
            query = query.where(MessageRecord.transaction_id == transaction_id)
        if since is not None:
            query = query.where(MessageRecord.created_at >= since)
        query = query.order_by(MessageRecord.created_at.desc(), MessageRecord.id.desc()).limit(limit)
        return list(await self.session.scalars(query))
