"""Reading numbers peers send as text: liberal (any decimal text), never raising on garbage."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def decimal_or_none(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def int_or_none(text: str | None) -> int | None:
    value = decimal_or_none(text)
    return int(value) if value is not None and value == value.to_integral_value() else None
