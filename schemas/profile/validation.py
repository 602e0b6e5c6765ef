"""Validation of the DEG flexibility tag groups against their JSON Schemas (compiled once, on first use).

The schemas say what each tag must look like; the few rules JSON Schema cannot say (a minimum not above
its maximum, a window that ends after it starts) are checked here, after the schema passed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import (  # type: ignore[import-untyped, unused-ignore]
    Draft202012Validator,
    FormatChecker,
    ValidationError,
)

from schemas.core_v1.base import BecknModel, json_path

PROFILE_TAG_GROUPS: tuple[str, ...] = ("flex_need", "flex_offer", "commitment", "performance", "settlement")
"""Codes (`descriptor.code`) of the tag groups the profile defines, one JSON Schema each."""

_LIMITS = {"flex_offer": ("min_kw", "max_kw")}
_WINDOWS = {"commitment": ("window_start", "window_end"), "performance": ("interval_start", "interval_end")}

# jsonschema checks "date-time" only when rfc3339-validator is installed; this check needs nothing more.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_FORMATS = FormatChecker([])


def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if _RFC3339.fullmatch(instance) is None:
        return False
    _parse_time(instance)
    return True


_FORMATS.checks("date-time", raises=ValueError)(_is_date_time)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))


class ProfileError(ValueError):
    """A tag group that breaks the profile; `paths` and `message` go into a NACK's `error`."""

    def __init__(self, message: str, locations: Sequence[str]) -> None:
        super().__init__(message)
        self.message = message
        self.locations = tuple(locations)

    @property
    def paths(self) -> str:
        """The failing locations as one comma separated string, as Beckn's `Error.paths` wants."""
        return ", ".join(self.locations)

    def located_at(self, prefix: str) -> ProfileError:
        """The same error with paths relative to an enclosing document (`message.intent.tags[0]`)."""
        return ProfileError(self.message, [f"{prefix}.{location}" for location in self.locations])


@cache
def schema_of(code: str) -> dict[str, Any]:
    """The JSON Schema of one profile tag group, read from the package data."""
    if code not in PROFILE_TAG_GROUPS:
        raise KeyError(f"not a profile tag group: {code!r}")
    text = resources.files("schemas.profile").joinpath(f"{code}.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(code: str) -> Draft202012Validator:
    schema = schema_of(code)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_FORMATS)


def _tag_codes(tags: object) -> list[object]:
    if not isinstance(tags, list):
        return []
    return [tag.get("descriptor", {}).get("code") for tag in tags if isinstance(tag, dict)]


def _describe(error: ValidationError) -> tuple[str, str]:
    path = json_path(error.absolute_path) or "$"
    if error.validator in ("contains", "minContains", "maxContains") and isinstance(error.schema, dict):
        expected = error.schema["contains"]["properties"]["descriptor"]["properties"]["code"]["const"]
        if expected in _tag_codes(error.instance):
            return path, f"tag {expected!r} appears more than once"
        return path, f"missing required tag {expected!r}"
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if description and error.validator in ("enum", "pattern", "format", "const"):
        return path, f"{path}: {error.instance!r} is not {description}"
    return path, f"{path}: {error.message}"


def _tag_values(group: Mapping[str, Any]) -> dict[str, str]:
    return {
        tag["descriptor"]["code"]: tag["value"]
        for tag in group.get("list", [])
        if isinstance(tag, dict) and isinstance(tag.get("value"), str)
    }


def _order_errors(code: str, group: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    values = _tag_values(group)
    codes = _tag_codes(group.get("list"))
    if code in _LIMITS:
        low, high = _LIMITS[code]
        if low in values and high in values and Decimal(values[low]) > Decimal(values[high]):
            yield f"list[{codes.index(high)}].value", f"{low} exceeds {high}"
    if code in _WINDOWS:
        start, end = _WINDOWS[code]
        if start in values and end in values and _parse_time(values[start]) >= _parse_time(values[end]):
            yield f"list[{codes.index(end)}].value", f"{end} is not after {start}"


def validate_tag_group(group: Mapping[str, Any] | BecknModel) -> None:
    """Raise `ProfileError` unless `group` is a valid profile tag group (known by `descriptor.code`)."""
    data = group.dump() if isinstance(group, BecknModel) else group
    descriptor = data.get("descriptor")
    code = descriptor.get("code") if isinstance(descriptor, dict) else None
    if code not in PROFILE_TAG_GROUPS:
        raise ProfileError(f"{code!r} is not a profile tag group", ["descriptor.code"])
    found = [_describe(error) for error in _validator(code).iter_errors(data)]
    if not found:
        found = list(_order_errors(code, data))
    if found:
        locations = list(dict.fromkeys(path for path, _ in found))
        raise ProfileError(f"{code}: " + "; ".join(message for _, message in found), locations)


def _tag_groups(node: object, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}"
            if key == "tags" and isinstance(value, list):
                for index, group in enumerate(value):
                    if isinstance(group, dict) and isinstance(group.get("descriptor"), dict):
                        if group["descriptor"].get("code") in PROFILE_TAG_GROUPS:
                            yield f"{child}[{index}]", group
            yield from _tag_groups(value, child)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _tag_groups(item, f"{path}[{index}]")


def profile_errors(message: Mapping[str, Any] | BecknModel, root: str = "message") -> list[ProfileError]:
    """Every profile tag group in a message body that breaks the profile, with paths from `root`.

    Other tag groups (a peer's own extensions) are left alone: the profile only owns its codes.
    """
    data = message.dump() if isinstance(message, BecknModel) else dict(message)
    errors: list[ProfileError] = []
    for path, group in _tag_groups(data, root):
        try:
            validate_tag_group(group)
        except ProfileError as error:
            errors.append(error.located_at(path))
    return errors
