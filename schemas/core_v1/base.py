"""The base model and the value types every Beckn object is made of.

Liberal in what we accept (extra fields, numbers where the spec says string, offsets in timestamps,
enum values the spec does not list) and strict in what we send (no nulls, decimals as strings, UTC `Z`
timestamps, only the spec's enum values): `BecknModel.dump()` is the wire form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    PlainSerializer,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic_core import core_schema

from schemas.core_v1.durations import format_timestamp, parse_duration

E = TypeVar("E", bound=StrEnum)

# The spec's DecimalValue pattern is unanchored, so any string holding a digit is valid on the wire.
_SPEC_DECIMAL = re.compile(r"[+-]?([0-9]*[.])?[0-9]+")


def format_decimal(number: int | float | Decimal) -> str:
    """Canonical text of a number: no exponent, no trailing zeros (`Decimal("50.00")` → `"50"`)."""
    if isinstance(number, bool):
        raise TypeError("a boolean is not a number")
    value = Decimal(str(number)) if isinstance(number, float) else Decimal(number)
    if not value.is_finite():
        raise ValueError(f"not a finite number: {number!r}")
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "+0") else text


def _number_to_text(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return format_decimal(value)
    return value


def _check_decimal(text: str) -> str:
    if _SPEC_DECIMAL.search(text) is None:
        raise ValueError(f"not a decimal value: {text!r}")
    return text


def _scalar_to_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _number_to_text(value)


def _to_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


DecimalStr = Annotated[str, BeforeValidator(_number_to_text), AfterValidator(_check_decimal)]
"""The spec's DecimalValue: a string on the wire; numbers sent by peers are turned into strings."""

Text = Annotated[str, BeforeValidator(_scalar_to_text)]
"""A string field that peers sometimes fill with a number or a boolean (tag values, ratings)."""

Timestamp = Annotated[
    datetime,
    AfterValidator(_to_utc),
    PlainSerializer(format_timestamp, return_type=str, when_used="json-unless-none"),
]
"""RFC 3339 date-time: any offset accepted (naive means UTC), held in UTC, sent as `…sss Z`."""

Duration = Annotated[str, AfterValidator(_check_duration)]
"""An ISO 8601 duration kept as sent (so `P1M` survives), checked to be readable by `parse_duration`."""


class SpecEnum(Generic[E]):
    """Annotation for a field the spec restricts to an enum: unknown strings from peers are kept,
    and `BecknModel` leaves them out of what it sends."""

    def __init__(self, enum_type: type[E]) -> None:
        self.enum_type = enum_type

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                self.serialize, when_used="json-unless-none"
            ),
        )

    def validate(self, value: Any) -> E | str | None:
        if value is None or isinstance(value, self.enum_type):
            return value
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        try:
            return self.enum_type(value)
        except ValueError:
            return value

    def serialize(self, value: E | str) -> str:
        return str(value)

    def allows(self, value: object) -> bool:
        return value is None or isinstance(value, self.enum_type)


_WIRE = "degflex.wire"


@cache
def _spec_enum_fields(model: type[BaseModel]) -> tuple[tuple[str, str | None, SpecEnum[Any]], ...]:
    return tuple(
        (name, field.alias, marker)
        for name, field in model.model_fields.items()
        for marker in field.metadata
        if isinstance(marker, SpecEnum)
    )


def json_path(parts: Iterable[str | int]) -> str:
    """A location as a compact JSON path: `("message", "items", 0, "id")` → `message.items[0].id`."""
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def _prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _prune_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_prune_nulls(item) for item in value if item is not None]
    return value


class BecknModel(BaseModel):
    """Base of every Beckn object: keeps fields we do not model, sends nothing the spec forbids."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def dump(self) -> dict[str, Any]:
        """The JSON-ready wire form: no nulls, aliases applied, decimals and timestamps as strings,
        enum values the spec does not list left out. `model_dump()` stays faithful to what was read."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True, context={_WIRE: True})

    @model_serializer(mode="wrap")
    def _wire_form(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        if isinstance(info.context, dict) and info.context.get(_WIRE):
            for name, alias, marker in _spec_enum_fields(type(self)):
                if not marker.allows(getattr(self, name)):
                    data.pop(alias if info.by_alias and alias else name, None)
        if info.exclude_none and self.__pydantic_extra__:
            for key in self.__pydantic_extra__:
                if key in data:
                    data[key] = _prune_nulls(data[key])
        return data
