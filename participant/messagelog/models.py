"""Every Beckn message sent or received, stored with its exact bytes: the audit trail and the inbox.

Accepted inbound messages carry a `dedupe_key` (`<sender>|<message_id>`) under a UNIQUE constraint, so a
replayed message is refused by the database itself, whichever replica received it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from participant.db import Base, UTCDateTime, new_id, utcnow


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"


class ProcessingState(StrEnum):
    """Where an accepted inbound message stands with its handler (outbound messages have none)."""

    PENDING = "PENDING"
    DONE = "DONE"
    FAILED = "FAILED"


def _enum_type(enum: type[StrEnum], length: int) -> Enum:
    """Stored as VARCHAR (no native enum type), so adding a member needs no ALTER TYPE."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )


class MessageRecord(Base):
    __tablename__ = "beckn_messages"
    __table_args__ = (
        Index("ix_beckn_messages_direction_action", "direction", "action"),
        Index("ix_beckn_messages_processing_state_created_at", "processing_state", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    direction: Mapped[Direction] = mapped_column(_enum_type(Direction, 8))
    action: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[str | None] = mapped_column(String(255), index=True)
    message_id: Mapped[str | None] = mapped_column(String(255))
    # The sender of an inbound message, the receiving subscriber of an outbound one.
    counterparty: Mapped[str | None] = mapped_column(String(255))
    bap_id: Mapped[str | None] = mapped_column(String(255))
    bpp_id: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    signature_verdict: Mapped[str | None] = mapped_column(String(255))
    http_status: Mapped[int | None] = mapped_column(Integer)
    ack_status: Mapped[str | None] = mapped_column(String(8))
    error_code: Mapped[str | None] = mapped_column(String(16))
    error_message: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(511), unique=True)
    processing_state: Mapped[ProcessingState | None] = mapped_column(_enum_type(ProcessingState, 16))
    processing_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return (
            f"MessageRecord(id={self.id!r}, direction={self.direction!s}, action={self.action!r}, "
            f"message_id={self.message_id!r}, counterparty={self.counterparty!r})"
        )
