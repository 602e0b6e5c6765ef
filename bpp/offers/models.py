"""The `bpp_offer_terms` table: one row of selling terms per grid node and direction."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bpp.fleet.models import KW_TYPE, FlexDirection, string_enum
from participant.db import Base, UTCDateTime, new_id, utcnow

MONEY_TYPE = Numeric(14, 4)
HEADROOM_TYPE = Numeric(4, 3)
DEFAULT_HEADROOM = Decimal("0.1")


# How delivered kW is measured: `X_OF_Y_<x>_<y>` (the highest x of the last y like days) or
# `METER_BEFORE_AFTER` (the meter just before the event); the labels `bpp.performance` computes.
DEFAULT_BASELINE_METHOD = "X_OF_Y_10_10"


class OfferTerms(Base):
    __tablename__ = "bpp_offer_terms"
    __table_args__ = (
        UniqueConstraint("grid_node", "direction", name="uq_bpp_offer_terms_grid_node_direction"),
        CheckConstraint("price_per_kwh >= 0", name="price_not_negative"),
        CheckConstraint("min_kw > 0 AND max_kw >= min_kw", name="kw_range"),
        CheckConstraint("reliability_headroom >= 0 AND reliability_headroom <= 0.5", name="headroom_range"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    grid_node: Mapped[str] = mapped_column(String(128))
    direction: Mapped[FlexDirection] = mapped_column(string_enum(FlexDirection, 16))
    price_per_kwh: Mapped[Decimal] = mapped_column(MONEY_TYPE)
    reservation_price_per_kw: Mapped[Decimal | None] = mapped_column(MONEY_TYPE)
    currency: Mapped[str] = mapped_column(String(3))
    min_kw: Mapped[Decimal] = mapped_column(KW_TYPE)
    max_kw: Mapped[Decimal] = mapped_column(KW_TYPE)
    response_time_s: Mapped[int] = mapped_column(Integer)
    min_notice_s: Mapped[int] = mapped_column(Integer)
    max_duration_s: Mapped[int] = mapped_column(Integer)
    max_events_per_day: Mapped[int] = mapped_column(Integer)
    baseline_method: Mapped[str] = mapped_column(String(32))
    cancel_before_s: Mapped[int] = mapped_column(Integer, default=0)
    cancellation_fee: Mapped[Decimal] = mapped_column(MONEY_TYPE, default=Decimal(0))
    reliability_headroom: Mapped[Decimal] = mapped_column(HEADROOM_TYPE, default=DEFAULT_HEADROOM)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return (
            f"OfferTerms(grid_node={self.grid_node!r}, direction={self.direction!s}, "
            f"price_per_kwh={self.price_per_kwh}, active={self.active})"
        )
