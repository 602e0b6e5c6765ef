"""Outbound Beckn messages waiting to be delivered, and one row per delivery attempt.

An entry is written in the same transaction as the business change that caused it, so a callback exists
exactly when that change committed. Workers lease entries (`lease_owner`, `lease_until`) so that replicas
share the work and a crashed worker's entries are picked up again once its lease runs out.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from participant.db import Base, UTCDateTime, new_id, utcnow
from participant.messagelog.models import MessageRecord


class OutboxStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    NACKED = "NACKED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"

    @property
    def final(self) -> bool:
        return self is not OutboxStatus.PENDING


class OutboxEntry(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    message_record_id: Mapped[str] = mapped_column(String(36), ForeignKey(MessageRecord.id), unique=True)
    action: Mapped[str] = mapped_column(String(64))
    target_url: Mapped[str] = mapped_column(Text)
    counterparty: Mapped[str] = mapped_column(String(255))
    status: Mapped[OutboxStatus] = mapped_column(
        Enum(
            OutboxStatus,
            native_enum=False,
            create_constraint=False,
            length=16,
            values_callable=lambda members: [member.value for member in members],
        ),
        default=OutboxStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    ack_status: Mapped[str | None] = mapped_column(String(8))
    error_code: Mapped[str | None] = mapped_column(String(16))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    message: Mapped[MessageRecord] = relationship(lazy="raise")
    delivery_attempts: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="entry", order_by="DeliveryAttempt.attempt", lazy="raise"
    )

    def __repr__(self) -> str:
        return (
            f"OutboxEntry(id={self.id!r}, action={self.action!r}, status={self.status!s}, "
            f"attempts={self.attempts})"
        )


class DeliveryAttempt(Base):
    """One POST of an outbox entry: when, what it was signed with, and what came back."""

    __tablename__ = "outbox_attempts"
    __table_args__ = (UniqueConstraint("outbox_id", "attempt", name="uq_outbox_attempts_outbox_id_attempt"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    outbox_id: Mapped[str] = mapped_column(String(36), ForeignKey(OutboxEntry.id, ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    http_status: Mapped[int | None] = mapped_column(Integer)
    ack_status: Mapped[str | None] = mapped_column(String(8))
    error_code: Mapped[str | None] = mapped_column(String(16))
    error_message: Mapped[str | None] = mapped_column(Text)
    authorization: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)

    entry: Mapped[OutboxEntry] = relationship(back_populates="delivery_attempts", lazy="raise")

    def __repr__(self) -> str:
        return (
            f"DeliveryAttempt(outbox_id={self.outbox_id!r}, attempt={self.attempt}, http={self.http_status})"
        )
