"""Building and reading the DEG flexibility tag groups that ride in Beckn `tags`.

Values are strings on the wire; numbers, datetimes and durations given here are written in their
canonical form (`Decimal("50.0")` → `"50"`, UTC `…Z` times, ISO 8601 durations) before validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.core_v1 import Descriptor, Tag, TagGroup, format_decimal, format_duration, format_timestamp
from schemas.profile.validation import validate_tag_group

TagValue = str | int | float | Decimal | datetime | timedelta
"""What `tag_group` accepts for a value; None leaves an optional tag out."""


def format_tag_value(value: TagValue) -> str:
    """The wire text of one tag value."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    return format_decimal(value)


def tag_group(code: str, values: Mapping[str, TagValue | None]) -> TagGroup:
    """A validated profile tag group, tags in the order given; raises `ProfileError` when invalid."""
    group = TagGroup(
        descriptor=Descriptor(code=code),
        list=[
            Tag(descriptor=Descriptor(code=name), value=format_tag_value(value))
            for name, value in values.items()
            if value is not None
        ],
    )
    validate_tag_group(group)
    return group


def _group_code(group: TagGroup | Mapping[str, Any]) -> object:
    if isinstance(group, TagGroup):
        return group.descriptor.code if group.descriptor else None
    descriptor = group.get("descriptor")
    return descriptor.get("code") if isinstance(descriptor, Mapping) else None


def _pairs(group: TagGroup | Mapping[str, Any]) -> list[tuple[object, object]]:
    if isinstance(group, TagGroup):
        return [(tag.descriptor.code if tag.descriptor else None, tag.value) for tag in group.list or []]
    tags = group.get("list")
    if not isinstance(tags, list):
        return []
    pairs: list[tuple[object, object]] = []
    for tag in tags:
        if isinstance(tag, Mapping) and isinstance(tag.get("descriptor"), Mapping):
            pairs.append((tag["descriptor"].get("code"), tag.get("value")))
    return pairs


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return format_decimal(value)


def read_tag_group(tags: Sequence[TagGroup | Mapping[str, Any]] | None, code: str) -> dict[str, str] | None:
    """The tags of the first group with `descriptor.code == code` as `{tag code: value}`, or None.

    Reads without validating (run `profile_errors` on the message first); tags without a code or a
    usable value are skipped, numbers sent by peers are read as their canonical text.
    """
    for group in tags or ():
        if _group_code(group) != code:
            continue
        values: dict[str, str] = {}
        for name, raw in _pairs(group):
            text = _text(raw)
            if isinstance(name, str) and text is not None:
                values[name] = text
        return values
    return None
