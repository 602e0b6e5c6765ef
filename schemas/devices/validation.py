"""Device messages against their JSON Schemas (compiled once, on first use), then the model's own rules.

The schemas are the contract for device agents written in other languages; the few rules JSON Schema
cannot say (a window that ends after it starts, flex within rating) are the models' validators.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, TypeVar

from jsonschema import (  # type: ignore[import-untyped, unused-ignore]
    Draft202012Validator,
    FormatChecker,
    ValidationError,
)
from pydantic import ValidationError as PydanticValidationError

from schemas.devices.errors import DeviceMessageError
from schemas.devices.models import DEVICE_MESSAGES, DeviceMessage

M = TypeVar("M", bound=DeviceMessage)

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_FORMATS = FormatChecker([])


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if _RFC3339.fullmatch(instance) is None:
        return False
    datetime.fromisoformat(instance.upper().replace("Z", "+00:00"))
    return True


@cache
def schema_of(name: str) -> dict[str, Any]:
    """The JSON Schema of one device message (`command`, `ack`, `telemetry`, `announce`)."""
    if name not in DEVICE_MESSAGES:
        raise KeyError(f"not a device message: {name!r}")
    text = resources.files("schemas.devices").joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = schema_of(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_FORMATS)


def _path(error: ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def schema_errors(name: str, document: object) -> list[tuple[str, str]]:
    """(path, message) for each way `document` breaks the schema of `name`; empty when it conforms."""
    return [(_path(error), error.message) for error in _validator(name).iter_errors(document)]


def validate_document(model: type[M], document: object) -> M:
    """A decoded JSON document → the model, or DeviceMessageError naming where it fails."""
    found = schema_errors(model.schema_name, document)
    if found:
        locations = list(dict.fromkeys(path for path, _ in found))
        details = "; ".join(f"{path}: {message}" for path, message in found)
        raise DeviceMessageError(f"{model.schema_name}: {details}", locations)
    try:
        return model.model_validate(document)
    except PydanticValidationError as exc:
        locations = [".".join(["$", *(str(part) for part in error["loc"])]) for error in exc.errors()]
        details = "; ".join(error["msg"] for error in exc.errors())
        raise DeviceMessageError(f"{model.schema_name}: {details}", locations) from None


def parse_message(model: type[M], data: bytes | str) -> M:
    """Wire bytes → the model; not JSON, schema violations and broken rules are all DeviceMessageError."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DeviceMessageError(f"{model.schema_name}: not JSON ({exc})") from None
    return validate_document(model, document)
