"""The `bpp_ders` table and the vocabulary shared by fleet, offers and capacity.

Which directions a kind of device can serve (`SERVED_DIRECTIONS`):

- REDUCE net load at the grid node ← BATTERY (discharge), FLEXIBLE_LOAD (shed), EV_CHARGER (pause charging);
- INCREASE net load, i.e. absorb export ← SOLAR_INVERTER (export curtailment), BATTERY (charge).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Enum, Float, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from participant.db import Base, UTCDateTime, utcnow

# kW and kWh to the watt(-hour): exact arithmetic, so capacity checks never drift by rounding.
KW_SCALE = 3
KW_TYPE = Numeric(12, KW_SCALE)


def format_kw(value: Decimal) -> str:
    """`100`, `12.5`: kW for messages, without exponent or trailing zeros."""
    return f"{value.normalize():f}"


class FlexDirection(StrEnum):
    """What a utility asks of a grid node: less net load (REDUCE) or more of it (INCREASE)."""

    REDUCE = "REDUCE"
    INCREASE = "INCREASE"


class DerKind(StrEnum):
    SOLAR_INVERTER = "SOLAR_INVERTER"
    BATTERY = "BATTERY"
    FLEXIBLE_LOAD = "FLEXIBLE_LOAD"
    EV_CHARGER = "EV_CHARGER"


class DerStatus(StrEnum):
    """Only ONLINE devices count towards capacity; RETIRED is final."""

    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"
    MAINTENANCE = "MAINTENANCE"
    RETIRED = "RETIRED"


SERVED_DIRECTIONS: dict[DerKind, frozenset[FlexDirection]] = {
    DerKind.BATTERY: frozenset({FlexDirection.REDUCE, FlexDirection.INCREASE}),
    DerKind.FLEXIBLE_LOAD: frozenset({FlexDirection.REDUCE}),
    DerKind.EV_CHARGER: frozenset({FlexDirection.REDUCE}),
    DerKind.SOLAR_INVERTER: frozenset({FlexDirection.INCREASE}),
}


def kinds_serving(direction: FlexDirection) -> list[DerKind]:
    return [kind for kind, directions in SERVED_DIRECTIONS.items() if direction in directions]


def string_enum(enum: type[StrEnum], length: int) -> Enum:
    """Stored as VARCHAR (no native enum type), so adding a member needs no ALTER TYPE."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )


class Der(Base):
    """One controllable device; flex_kw is what it can reduce or shift, never more than rated_kw."""

    __tablename__ = "bpp_ders"
    __table_args__ = (
        CheckConstraint("rated_kw > 0", name="rated_kw_positive"),
        CheckConstraint("flex_kw >= 0 AND flex_kw <= rated_kw", name="flex_kw_within_rated"),
        CheckConstraint("battery_capacity_kwh IS NULL OR battery_capacity_kwh > 0", name="battery_capacity"),
        CheckConstraint(
            "state_of_charge IS NULL OR (state_of_charge >= 0 AND state_of_charge <= 1)",
            name="state_of_charge_fraction",
        ),
        CheckConstraint("reliability >= 0 AND reliability <= 1", name="reliability_fraction"),
        Index("ix_bpp_ders_grid_node_status", "grid_node", "status"),
    )

    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[DerKind] = mapped_column(string_enum(DerKind, 16))
    site_id: Mapped[str | None] = mapped_column(String(128))
    meter_id: Mapped[str | None] = mapped_column(String(128))
    grid_node: Mapped[str] = mapped_column(String(128))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    area_code: Mapped[str | None] = mapped_column(String(32))
    rated_kw: Mapped[Decimal] = mapped_column(KW_TYPE)
    flex_kw: Mapped[Decimal] = mapped_column(KW_TYPE)
    battery_capacity_kwh: Mapped[Decimal | None] = mapped_column(KW_TYPE)
    state_of_charge: Mapped[float | None] = mapped_column(Float)
    owner_id: Mapped[str | None] = mapped_column(String(128), index=True)
    status: Mapped[DerStatus] = mapped_column(string_enum(DerStatus, 16), default=DerStatus.ONLINE)
    reliability: Mapped[float] = mapped_column(Float, default=0.95)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def serves(self) -> list[FlexDirection]:
        return sorted(SERVED_DIRECTIONS[self.kind])

    def __repr__(self) -> str:
        return (
            f"Der(device_id={self.device_id!r}, kind={self.kind!s}, grid_node={self.grid_node!r}, "
            f"flex_kw={self.flex_kw}, status={self.status!s})"
        )
