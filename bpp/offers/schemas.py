"""Offer terms as the API and the terms file give them, and as the API returns them."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from bpp.fleet.models import FlexDirection
from bpp.fleet.schemas import GridNode, Kilowatts
from bpp.offers.models import DEFAULT_BASELINE_METHOD, DEFAULT_HEADROOM

# Money stays exact and travels as a string, as Beckn prices do.
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
Seconds = Annotated[int, Field(ge=0, le=31 * 24 * 3600)]
BASELINE_METHOD = re.compile(r"^(?:X_OF_Y_(?P<x>[1-9][0-9]?)_(?P<y>[1-9][0-9]?)|METER_BEFORE_AFTER)$")


def _baseline_method(value: str) -> str:
    match = BASELINE_METHOD.match(value)
    if match is None:
        raise ValueError("baseline_method is X_OF_Y_<x>_<y> (e.g. X_OF_Y_10_10) or METER_BEFORE_AFTER")
    if match["x"] is not None and int(match["x"]) > int(match["y"]):
        raise ValueError(f"{value}: x must not exceed y")
    return value


BaselineMethod = Annotated[str, AfterValidator(_baseline_method)]


class OfferTermsIn(BaseModel):
    """The terms for one grid node and direction (both given by the URL or the file entry)."""

    model_config = ConfigDict(extra="forbid")

    price_per_kwh: Money
    reservation_price_per_kw: Money | None = Field(
        default=None, description="paid per kW held available, whether or not dispatched"
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")
    min_kw: Kilowatts = Field(gt=0)
    max_kw: Kilowatts = Field(gt=0)
    response_time_s: Seconds = Field(gt=0, description="from dispatch to full response")
    min_notice_s: Seconds = 0
    max_duration_s: Seconds = Field(gt=0)
    max_events_per_day: int = Field(ge=1, le=96)
    baseline_method: BaselineMethod = DEFAULT_BASELINE_METHOD
    cancel_before_s: Seconds = Field(default=0, description="no cancellation less than this before start")
    cancellation_fee: Money = Decimal(0)
    reliability_headroom: Decimal = Field(
        default=DEFAULT_HEADROOM,
        ge=0,
        le=Decimal("0.5"),
        decimal_places=3,
        description="share of controllable kW never sold, against devices that fail to respond",
    )
    active: bool = True

    @model_validator(mode="after")
    def _kw_range(self) -> Self:
        if self.max_kw < self.min_kw:
            raise ValueError(f"max_kw ({self.max_kw}) must not be below min_kw ({self.min_kw})")
        return self


class OfferTermsEntry(OfferTermsIn):
    """One entry of a terms file: the terms plus the grid node and direction they apply to."""

    grid_node: GridNode
    direction: FlexDirection


class OfferTermsRead(OfferTermsEntry):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: str
    created_at: datetime
    updated_at: datetime
