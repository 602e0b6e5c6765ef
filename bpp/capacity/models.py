"""Reservations of a grid node's flexibility, and the per-node lock row that serializes them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bpp.fleet.models import KW_TYPE, FlexDirection, string_enum
from participant.db import Base, UTCDateTime, new_id, utcnow


class ReservationStatus(StrEnum):
    """HELD while a utility considers a quote (until the hold expires), COMMITTED once an order is
    confirmed; both count against the node while they are live."""

    HELD = "HELD"
    COMMITTED = "COMMITTED"
    RELEASED = "RELEASED"


class Reservation(Base):
    """`kw` of one direction on one grid node over [window_start, window_end), for one holder."""

    __tablename__ = "bpp_reservations"
    __table_args__ = (
        CheckConstraint("kw > 0", name="kw_positive"),
        CheckConstraint("window_end > window_start", name="window_not_empty"),
        Index("ix_bpp_reservations_grid_node_direction_window", "grid_node", "direction", "window_start"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    grid_node: Mapped[str] = mapped_column(String(128))
    direction: Mapped[FlexDirection] = mapped_column(string_enum(FlexDirection, 16))
    kw: Mapped[Decimal] = mapped_column(KW_TYPE)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[ReservationStatus] = mapped_column(string_enum(ReservationStatus, 16))
    order_id: Mapped[str | None] = mapped_column(String(255), index=True)
    holder: Mapped[str] = mapped_column(String(255))
    # HELD only: from this moment the hold no longer counts (compared with the clock when read, so no
    # sweeper is needed); None: it counts until released.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return (
            f"Reservation(id={self.id!r}, grid_node={self.grid_node!r}, direction={self.direction!s}, "
            f"kw={self.kw}, window=[{self.window_start.isoformat()}, {self.window_end.isoformat()}), "
            f"status={self.status!s})"
        )


class GridNodeLock(Base):
    """One row per grid node, bumped by every reservation change so that they run one at a time."""

    __tablename__ = "bpp_grid_node_locks"

    grid_node: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
