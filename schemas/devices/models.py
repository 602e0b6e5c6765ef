"""The four messages between an aggregator and its devices, with OpenADR 3 and IEEE 2030.5 names.

Each model has a JSON Schema beside it (`<name>.schema.json`); `from_json` checks the schema first, so a
device built in another language is held to the same document as this code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

from schemas.devices.subjects import DEVICE_ID_PATTERN


def _to_utc(value: datetime) -> datetime:
    """UTC to the millisecond, the precision on the wire, so a message survives a round trip unchanged."""
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC to the millisecond: `2026-01-15T17:00:00.000Z`."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]
"""Any RFC 3339 time with an offset on the way in (naive times are refused), UTC milliseconds out."""

DeviceId = Annotated[str, Field(pattern=DEVICE_ID_PATTERN)]
CommandId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")]
Label = Annotated[str, Field(min_length=1, max_length=128)]
Kilowatts = Annotated[float, Field(allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
GridNode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*:[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")]


class DeviceKind(StrEnum):
    """The same names as the fleet's `DerKind`: an announcement registers a device of that kind."""

    SOLAR_INVERTER = "SOLAR_INVERTER"
    BATTERY = "BATTERY"
    FLEXIBLE_LOAD = "FLEXIBLE_LOAD"
    EV_CHARGER = "EV_CHARGER"


class CommandKind(StrEnum):
    CURTAIL = "CURTAIL"
    DISCHARGE = "DISCHARGE"
    SHED = "SHED"
    PAUSE_CHARGING = "PAUSE_CHARGING"
    RELEASE = "RELEASE"


class SetpointType(StrEnum):
    """OpenADR 3 payload types: two ceilings on the meter, and an amount of flexibility to dispatch."""

    IMPORT_CAPACITY_LIMIT = "IMPORT_CAPACITY_LIMIT"
    EXPORT_CAPACITY_LIMIT = "EXPORT_CAPACITY_LIMIT"
    DISPATCH_SETPOINT = "DISPATCH_SETPOINT"


class AckStatus(StrEnum):
    """IEEE 2030.5 response statuses, in lifecycle order."""

    RECEIVED = "RECEIVED"
    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    OPTED_OUT = "OPTED_OUT"
    PARTIAL = "PARTIAL"
    CANCELLED = "CANCELLED"
    SUPERSEDED = "SUPERSEDED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_terminal(self) -> bool:
        """After a terminal status nothing more is said about the command."""
        return self not in (AckStatus.RECEIVED, AckStatus.STARTED)


ALLOWED_SETPOINTS: dict[CommandKind, frozenset[SetpointType]] = {
    CommandKind.CURTAIL: frozenset({SetpointType.EXPORT_CAPACITY_LIMIT, SetpointType.DISPATCH_SETPOINT}),
    CommandKind.DISCHARGE: frozenset({SetpointType.DISPATCH_SETPOINT}),
    CommandKind.SHED: frozenset({SetpointType.IMPORT_CAPACITY_LIMIT, SetpointType.DISPATCH_SETPOINT}),
    CommandKind.PAUSE_CHARGING: frozenset(
        {SetpointType.IMPORT_CAPACITY_LIMIT, SetpointType.DISPATCH_SETPOINT}
    ),
    CommandKind.RELEASE: frozenset(),
}
"""Which setpoint each command kind takes. DISPATCH_SETPOINT is always the kW of flexibility asked for
(discharge, shed, charging paused, export curtailed); the limits are ceilings at the device's meter."""


class DeviceMessage(BaseModel):
    """Frozen, and liberal about fields it does not know (a newer agent may send more)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_name: ClassVar[str]

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> bytes:
        """The exact bytes that go on the wire (compact, UTF-8)."""
        return json.dumps(self.dump(), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        """Parse wire bytes: JSON Schema first, then the rules across fields; DeviceMessageError if bad."""
        from schemas.devices.validation import parse_message

        return parse_message(cls, data)


class Setpoint(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: SetpointType
    value: Kilowatts = Field(ge=0)
    unit: Literal["kW"] = "kW"


class Command(DeviceMessage):
    """What the aggregator asks one device to do in a window; RELEASE ends an order's commands early."""

    schema_name: ClassVar[str] = "command"

    command_id: CommandId
    order_id: Label
    device_id: DeviceId
    kind: CommandKind
    setpoint: Setpoint | None = None
    start: Timestamp
    end: Timestamp
    issued_at: Timestamp

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.kind is CommandKind.RELEASE:
            if self.setpoint is not None:
                raise ValueError("a RELEASE carries no setpoint")
        elif self.setpoint is None:
            raise ValueError(f"a {self.kind} command needs a setpoint")
        elif self.setpoint.type not in ALLOWED_SETPOINTS[self.kind]:
            raise ValueError(f"a {self.kind} command cannot take a {self.setpoint.type} setpoint")
        return self


class Ack(DeviceMessage):
    """A device's word on a command; the pair (command_id, status) is said at most once."""

    schema_name: ClassVar[str] = "ack"

    command_id: CommandId
    device_id: DeviceId
    status: AckStatus
    at: Timestamp
    reason: str | None = Field(default=None, min_length=1, max_length=500)
    delivered_kw: Kilowatts | None = None

    @property
    def key(self) -> tuple[str, AckStatus]:
        return self.command_id, self.status


class Telemetry(DeviceMessage):
    """A meter reading at the device: power_kw is positive when importing from the grid."""

    schema_name: ClassVar[str] = "telemetry"

    device_id: DeviceId
    ts: Timestamp
    power_kw: Kilowatts
    soc: Fraction | None = None
    state: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,31}$")


class Announce(DeviceMessage):
    """A device agent saying what it is, where it sits on the grid, and that it is alive."""

    schema_name: ClassVar[str] = "announce"

    device_id: DeviceId
    kind: DeviceKind
    rated_kw: Kilowatts = Field(gt=0)
    flex_kw: Kilowatts = Field(ge=0)
    grid_node: GridNode
    site_id: Label | None = None
    meter_id: Label | None = None
    battery_capacity_kwh: Kilowatts | None = Field(default=None, gt=0)
    soc: Fraction | None = None
    lat: float | None = Field(default=None, ge=-90.0, le=90.0)
    lon: float | None = Field(default=None, ge=-180.0, le=180.0)
    firmware: str | None = Field(default=None, min_length=1, max_length=64)
    at: Timestamp

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.flex_kw > self.rated_kw:
            raise ValueError("flex_kw exceeds rated_kw")
        if self.kind is DeviceKind.BATTERY and self.battery_capacity_kwh is None:
            raise ValueError("a battery announces its battery_capacity_kwh")
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give lat and lon together")
        return self


DEVICE_MESSAGES: dict[str, type[DeviceMessage]] = {
    model.schema_name: model for model in (Command, Ack, Telemetry, Announce)
}
