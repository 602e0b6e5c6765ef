"""What operators and grid systems send to open an event, and how they change a recommendation."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from bap.events.models import Severity
from bap.recommendation.models import FlexDirection

GridNode = Annotated[
    str,
    StringConstraints(pattern=r"^(transformer|feeder|substation):[A-Za-z0-9._-]+$", max_length=128),
]
"""A grid node as the profile names it: `transformer:TX-17`, `feeder:F-3`, `substation:S-1`."""

STRICT = ConfigDict(extra="forbid")


class Window(BaseModel):
    model_config = STRICT

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("window.end must be after window.start")
        return self


class FlexRequestIn(BaseModel):
    """`POST /api/flex-requests`: the need to cover; starts a Beckn search."""

    model_config = STRICT

    grid_node: GridNode
    location: dict[str, Any] | None = Field(default=None, description="Beckn Location: gps, area_code, …")
    window: Window
    required_kw: Decimal = Field(gt=0, max_digits=12, decimal_places=3)
    direction: FlexDirection = FlexDirection.REDUCE
    max_price: Decimal | None = Field(default=None, ge=0, description="per kWh")
    severity: Severity = Severity.MEDIUM
    note: str | None = Field(default=None, max_length=1000)


class GridAlertIn(BaseModel):
    """`POST /api/grid-alerts` and NATS `degflex.grid.alerts`: a node heading above its capacity."""

    model_config = ConfigDict(extra="ignore")

    node_id: GridNode
    load_kw: Decimal = Field(ge=0)
    capacity_kw: Decimal = Field(gt=0)
    forecast_peak_kw: Decimal = Field(ge=0)
    expected_start: AwareDatetime
    duration: timedelta = Field(description="ISO 8601 (PT2H) or seconds")
    severity: Severity = Severity.HIGH
    location: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _positive_duration(self) -> Self:
        if self.duration <= timedelta(0):
            raise ValueError("duration must be positive")
        return self


class CurtailmentIn(BaseModel):
    """`POST /api/curtailment`: curtail `kw` on a node now (or from `start`) for `duration`."""

    model_config = STRICT

    grid_node: GridNode
    kw: Decimal = Field(gt=0, max_digits=12, decimal_places=3)
    start: AwareDatetime | None = None
    duration: timedelta = Field(default=timedelta(hours=1))
    severity: Severity = Severity.HIGH
    max_price: Decimal | None = Field(default=None, ge=0)
    reason: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _positive_duration(self) -> Self:
        if self.duration <= timedelta(0):
            raise ValueError("duration must be positive")
        return self


class Take(BaseModel):
    model_config = STRICT

    offer_id: str = Field(min_length=1)
    kw: Decimal = Field(ge=0, max_digits=12, decimal_places=3, description="0 drops the offer")


class AdjustIn(BaseModel):
    """Change how much to take from some offers; the others stay as recommended."""

    model_config = STRICT

    takes: list[Take] = Field(min_length=1)


class DecisionIn(BaseModel):
    model_config = STRICT

    note: str | None = Field(default=None, max_length=1000)


def window_of(start: datetime, duration: timedelta) -> Window:
    return Window(start=start, end=start + duration)
