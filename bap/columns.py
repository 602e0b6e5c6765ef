"""Column types every BAP table shares: kW and money as exact decimals, enums stored as short strings."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum, Numeric

KW = Numeric(precision=12, scale=3, asdecimal=True)
"""kW and kWh to the watt (docs/measurement.md rounds there)."""

MONEY = Numeric(precision=14, scale=4, asdecimal=True)
"""Prices per kWh and amounts; four places so a per-kWh price survives."""

FRACTION = Numeric(precision=6, scale=4, asdecimal=True)
"""Reliabilities, headroom and loading factors."""


def string_enum(enum: type[StrEnum], length: int = 24) -> Enum:
    """Stored as VARCHAR without a CHECK, so adding a state needs no migration of the type."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )
