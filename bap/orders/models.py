"""An order with one aggregator: the offers taken from it, where activation stands, and what it delivered."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bap.columns import KW, MONEY, string_enum
from bap.events.models import FlexEvent
from participant.db import Base, UTCDateTime, new_id, utcnow


class OrderState(StrEnum):
    """Activation (SELECTING → INITIALIZING → CONFIRMING), then ACTIVE until it ends one way or another."""

    SELECTING = "SELECTING"
    INITIALIZING = "INITIALIZING"
    CONFIRMING = "CONFIRMING"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"

    @property
    def activating(self) -> bool:
        return self in (OrderState.SELECTING, OrderState.INITIALIZING, OrderState.CONFIRMING)

    @property
    def final(self) -> bool:
        return self in (OrderState.COMPLETED, OrderState.CANCELLED, OrderState.FAILED)


class Step(StrEnum):
    """The request an order waits on a callback for (its `step_message_id`)."""

    SELECT = "select"
    INIT = "init"
    CONFIRM = "confirm"
    UPDATE = "update"
    CANCEL = "cancel"


class Order(Base):
    __tablename__ = "bap_orders"
    __table_args__ = (Index("ix_bap_orders_aggregator_id_bpp_order_id", "aggregator_id", "bpp_order_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(FlexEvent.id, ondelete="CASCADE"), index=True
    )
    round: Mapped[int] = mapped_column(Integer, default=0)
    aggregator_id: Mapped[str] = mapped_column(String(255))
    bpp_uri: Mapped[str] = mapped_column(Text)
    provider_id: Mapped[str] = mapped_column(String(255))
    transaction_id: Mapped[str] = mapped_column(String(255), index=True)
    state: Mapped[OrderState] = mapped_column(string_enum(OrderState), index=True)
    step: Mapped[Step | None] = mapped_column(string_enum(Step, 16))
    step_message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    step_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    pending_change: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_kw: Mapped[Decimal] = mapped_column(KW)
    expected_kw: Mapped[Decimal] = mapped_column(KW)
    expected_cost: Mapped[Decimal] = mapped_column(MONEY)
    quoted_cost: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(8))
    quote: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    bpp_order_id: Mapped[str | None] = mapped_column(String(255))
    committed_kw: Mapped[Decimal | None] = mapped_column(KW)
    devices: Mapped[int | None] = mapped_column(Integer)
    fulfillment_state: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(16))
    """The aggregator's verdict on the event, COMPLETED or PARTIAL; kept when SETTLED follows."""
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """`context.timestamp` of the newest progress report applied: an older one changes nothing."""
    baseline_kw: Mapped[Decimal | None] = mapped_column(KW)
    actual_kw: Mapped[Decimal | None] = mapped_column(KW)
    delivered_kw: Mapped[Decimal | None] = mapped_column(KW)
    delivered_kwh: Mapped[Decimal | None] = mapped_column(KW)
    devices_acked: Mapped[int | None] = mapped_column(Integer)
    devices_opted_out: Mapped[int | None] = mapped_column(Integer)
    settlement: Mapped[dict[str, str] | None] = mapped_column(JSON)
    net_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"Order(id={self.id!r}, aggregator_id={self.aggregator_id!r}, state={self.state!s})"
