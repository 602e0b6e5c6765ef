"""A flexibility event (one need on one grid node, one Beckn search transaction) and the offers it got."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bap.columns import FRACTION, KW, MONEY, string_enum
from participant.db import Base, UTCDateTime, new_id, utcnow


class EventState(StrEnum):
    """COLLECTING offers → AWAITING_APPROVAL → ACTIVATING → ACTIVE → COMPLETED; or a dead end."""

    COLLECTING = "COLLECTING"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    ACTIVATING = "ACTIVATING"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    NO_OPTIONS = "NO_OPTIONS"
    DECLINED = "DECLINED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def open(self) -> bool:
        """Still wants or holds flexibility (counts for conflicts and the snapshot)."""
        return self in OPEN_STATES


OPEN_STATES = frozenset(
    {
        EventState.COLLECTING,
        EventState.AWAITING_APPROVAL,
        EventState.ACTIVATING,
        EventState.ACTIVE,
    }
)


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class EventSource(StrEnum):
    API = "api"
    GRID_ALERT = "grid_alert"
    NATS = "nats"
    CURTAILMENT = "curtailment"


class FlexEvent(Base):
    __tablename__ = "bap_flex_events"
    __table_args__ = (Index("ix_bap_flex_events_grid_node_window_start", "grid_node", "window_start"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    source: Mapped[EventSource] = mapped_column(string_enum(EventSource, 16))
    grid_node: Mapped[str] = mapped_column(String(128))
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    direction: Mapped[str] = mapped_column(String(16))
    required_kw: Mapped[Decimal] = mapped_column(KW)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    max_price_per_kwh: Mapped[Decimal | None] = mapped_column(MONEY)
    headroom: Mapped[Decimal] = mapped_column(FRACTION)
    severity: Mapped[Severity] = mapped_column(string_enum(Severity, 16))
    state: Mapped[EventState] = mapped_column(string_enum(EventState), index=True)
    transaction_id: Mapped[str] = mapped_column(String(255), unique=True)
    search_message_id: Mapped[str] = mapped_column(String(255))
    searched_bpps: Mapped[list[str] | None] = mapped_column(JSON)
    collect_until: Mapped[datetime] = mapped_column(UTCDateTime)
    recommendation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    recommended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    grid_alert: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"FlexEvent(id={self.id!r}, grid_node={self.grid_node!r}, state={self.state!s})"


class FlexOffer(Base):
    """One item of one aggregator's on_search, as the recommendation sees it."""

    __tablename__ = "bap_flex_offers"
    __table_args__ = (
        UniqueConstraint(
            "event_id", "aggregator_id", "provider_id", "item_id", name="uq_bap_flex_offers_item"
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(
        String(36), ForeignKey(FlexEvent.id, ondelete="CASCADE"), index=True
    )
    aggregator_id: Mapped[str] = mapped_column(String(255))
    bpp_uri: Mapped[str] = mapped_column(Text)
    provider_id: Mapped[str] = mapped_column(String(255))
    provider_name: Mapped[str | None] = mapped_column(String(255))
    item_id: Mapped[str] = mapped_column(String(255))
    item_name: Mapped[str | None] = mapped_column(String(255))
    fulfillment_id: Mapped[str | None] = mapped_column(String(255))
    direction: Mapped[str | None] = mapped_column(String(16))
    grid_node: Mapped[str | None] = mapped_column(String(128))
    available_kw: Mapped[Decimal] = mapped_column(KW)
    min_kw: Mapped[Decimal] = mapped_column(KW)
    max_kw: Mapped[Decimal] = mapped_column(KW)
    price_per_kwh: Mapped[Decimal] = mapped_column(MONEY)
    currency: Mapped[str | None] = mapped_column(String(8))
    offer_reliability: Mapped[Decimal] = mapped_column(FRACTION)
    reliability: Mapped[Decimal] = mapped_column(FRACTION)
    terms: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
