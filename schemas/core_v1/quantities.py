"""Amounts: scalars with units, item quantities, prices and fees (all decimals are strings)."""

from __future__ import annotations

from schemas.core_v1.base import BecknModel, DecimalStr
from schemas.core_v1.enums import ScalarTypeField


class ScalarRange(BecknModel):
    min: DecimalStr | None = None
    max: DecimalStr | None = None


class Scalar(BecknModel):
    """A value with a unit; DEG flexibility puts kW and kWh here."""

    type: ScalarTypeField = None
    value: DecimalStr | None = None
    estimated_value: DecimalStr | None = None
    computed_value: DecimalStr | None = None
    range: ScalarRange | None = None
    unit: str | None = None


class QuantityAmount(BecknModel):
    """One line of `ItemQuantity`: a count of units, a measure, or both."""

    count: int | None = None
    measure: Scalar | None = None


class ItemQuantity(BecknModel):
    allocated: QuantityAmount | None = None
    available: QuantityAmount | None = None
    maximum: QuantityAmount | None = None
    minimum: QuantityAmount | None = None
    selected: QuantityAmount | None = None
    unitized: QuantityAmount | None = None


class Price(BecknModel):
    currency: str | None = None
    value: DecimalStr | None = None
    estimated_value: DecimalStr | None = None
    computed_value: DecimalStr | None = None
    listed_value: DecimalStr | None = None
    offered_value: DecimalStr | None = None
    minimum_value: DecimalStr | None = None
    maximum_value: DecimalStr | None = None


class Fee(BecknModel):
    percentage: DecimalStr | None = None
    amount: Price | None = None
