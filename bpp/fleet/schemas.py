"""What the fleet API and device agents send and receive; field rules that need no database."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, ValidationInfo, field_validator

from bpp.fleet.models import DerKind, DerStatus, FlexDirection

# `<kind>:<id>` (transformer:TX-17, feeder:F-3): one segment of a URL path, no slash.
GridNode = Annotated[
    str, Field(min_length=3, max_length=128, pattern=r"^[a-z][a-z0-9_]*:[A-Za-z0-9][A-Za-z0-9._-]*$")
]
# A NATS subject token (`degflex.<aggregator>.cmd.<device_id>`): no dots, wildcards or spaces.
DeviceId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_:-]*$")]
# kW / kWh to the watt; exact in Python, a JSON number on the wire.
Kilowatts = Annotated[
    Decimal,
    Field(max_digits=12, decimal_places=3),
    PlainSerializer(float, return_type=float, when_used="json"),
]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Label = Annotated[str, Field(min_length=1, max_length=128)]


class DerDescription(BaseModel):
    """What a device is and where it sits on the grid: given by an operator or announced by its agent."""

    model_config = ConfigDict(extra="forbid")

    device_id: DeviceId
    kind: DerKind
    grid_node: GridNode
    rated_kw: Kilowatts = Field(gt=0)
    flex_kw: Kilowatts = Field(ge=0, description="kW the device can reduce or shift on request")
    battery_capacity_kwh: Kilowatts | None = Field(default=None, gt=0)
    state_of_charge: Fraction | None = None
    site_id: Label | None = None
    meter_id: Label | None = None
    latitude: float | None = Field(default=None, ge=-90.0, le=90.0)
    longitude: float | None = Field(default=None, ge=-180.0, le=180.0)
    area_code: str | None = Field(default=None, min_length=1, max_length=32)


class DerCreate(DerDescription):
    owner_id: Label | None = Field(default=None, description="the enrolled consumer, if any")
    status: DerStatus = DerStatus.ONLINE
    reliability: Fraction = 0.95


class DerAnnouncement(DerDescription):
    """A device agent saying "I exist and I am alive"; registers the device on first sight."""


class DerUpdate(BaseModel):
    """A partial change: only the fields sent are applied; `null` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    grid_node: GridNode | None = None
    rated_kw: Kilowatts | None = Field(default=None, gt=0)
    flex_kw: Kilowatts | None = Field(default=None, ge=0)
    battery_capacity_kwh: Kilowatts | None = Field(default=None, gt=0)
    state_of_charge: Fraction | None = None
    site_id: Label | None = None
    meter_id: Label | None = None
    latitude: float | None = Field(default=None, ge=-90.0, le=90.0)
    longitude: float | None = Field(default=None, ge=-180.0, le=180.0)
    area_code: str | None = Field(default=None, min_length=1, max_length=32)
    owner_id: Label | None = None
    status: DerStatus | None = None
    reliability: Fraction | None = None

    @field_validator("grid_node", "rated_kw", "flex_kw", "status", "reliability", mode="before")
    @classmethod
    def _required_fields_not_cleared(cls, value: object, info: ValidationInfo) -> object:
        """Runs only for fields sent: leaving one out keeps it, sending null would clear a required one."""
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null")
        return value

    def changes(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class DerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    device_id: str
    kind: DerKind
    serves: list[FlexDirection]
    grid_node: str
    rated_kw: Kilowatts
    flex_kw: Kilowatts
    battery_capacity_kwh: Kilowatts | None
    state_of_charge: float | None
    site_id: str | None
    meter_id: str | None
    latitude: float | None
    longitude: float | None
    area_code: str | None
    owner_id: str | None
    status: DerStatus
    reliability: float
    last_seen_at: datetime | None
    created_at: datetime
    updated_at: datetime
