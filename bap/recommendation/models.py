"""The need, the offers and the recommendation the desk shows an operator."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

FROZEN = ConfigDict(frozen=True, extra="forbid")
_MICROSECONDS_PER_HOUR = Decimal(3_600_000_000)


class FlexDirection(StrEnum):
    """REDUCE: less net load (less consumption or more export); INCREASE: more net load."""

    REDUCE = "REDUCE"
    INCREASE = "INCREASE"


class SolveMethod(StrEnum):
    EXACT = "EXACT"
    GREEDY = "GREEDY"


class FlexNeed(BaseModel):
    """What the grid needs: `required_kw` in `direction` over the window, bought with `headroom` to spare.

    The target is required_kw × headroom of reliability-weighted kW (Σ take × reliability), so a 1.1
    headroom covers the need even if the offers under-deliver by their expected amount and then 10 %.
    """

    model_config = FROZEN

    required_kw: Decimal = Field(gt=0)
    window_start: datetime
    window_end: datetime
    direction: FlexDirection
    headroom: Decimal = Field(Decimal("1.1"), ge=1)
    max_price_per_kwh: Decimal | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.window_start.tzinfo is None or self.window_end.tzinfo is None:
            raise ValueError("window times must be timezone-aware")
        if self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self

    @property
    def hours(self) -> Decimal:
        duration = self.window_end - self.window_start
        microseconds = (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds
        return Decimal(microseconds) / _MICROSECONDS_PER_HOUR

    @property
    def target_kw(self) -> Decimal:
        return self.required_kw * self.headroom


class FlexOption(BaseModel):
    """One offer from an aggregator: up to min(available_kw, max_kw), at least min_kw if taken at all."""

    model_config = FROZEN

    option_id: str
    aggregator_id: str
    available_kw: Decimal = Field(ge=0)
    min_kw: Decimal = Field(Decimal(0), ge=0)
    max_kw: Decimal = Field(gt=0)
    price_per_kwh: Decimal = Field(ge=0)
    reliability: Decimal = Field(ge=0, le=1)
    reservation_price_per_kw: Decimal | None = Field(None, ge=0)
    direction: FlexDirection | None = None

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.min_kw > self.max_kw:
            raise ValueError(f"option {self.option_id}: min_kw {self.min_kw} exceeds max_kw {self.max_kw}")
        return self

    @property
    def takeable_kw(self) -> Decimal:
        return min(self.available_kw, self.max_kw)


class Selection(BaseModel):
    """How much of one offer to take; `expected_kw` = kw × reliability; costs rounded to cents."""

    model_config = FROZEN

    option_id: str
    aggregator_id: str
    kw: Decimal
    expected_kw: Decimal
    price_per_kwh: Decimal
    reliability: Decimal
    energy_cost: Decimal
    reservation_cost: Decimal
    cost: Decimal


class Exclusion(BaseModel):
    """An offer that could not be considered, and why in words."""

    model_config = FROZEN

    option_id: str
    aggregator_id: str
    reason: str


class Recommendation(BaseModel):
    """The offers to take; `partial` with `gap_kw` (reliable kW short of the target) if they cannot cover it.

    covered_kw = Σ kw, expected_kw = Σ kw × reliability, target_kw = required_kw × headroom,
    cost = Σ selection costs.
    """

    model_config = FROZEN

    selections: tuple[Selection, ...]
    covered_kw: Decimal
    expected_kw: Decimal
    required_kw: Decimal
    target_kw: Decimal
    cost: Decimal
    partial: bool
    gap_kw: Decimal
    excluded: tuple[Exclusion, ...]
    method: SolveMethod
    explanation: str
