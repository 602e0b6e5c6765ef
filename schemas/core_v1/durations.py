"""ISO 8601 durations and RFC 3339 timestamps as Beckn puts them on the wire.

`timedelta` has no months or years, yet real DEG payloads send `P1M`: a month is read as 30 days and a
year as 365 days. That is exact enough for ttls and program periods; never use it for calendar maths.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

DAYS_PER_MONTH = 30
DAYS_PER_YEAR = 365
# Every received context's ttl is read when it is validated and again for its expiry; peers use a
# handful of values, so short texts are remembered (long ones are rare and not worth the memory).
_CACHED_DURATION_LENGTH = 32

_DURATION = re.compile(
    r"P(?!$)"
    r"(?:(?P<years>\d+)Y)?"
    r"(?:(?P<months>\d+)M)?"
    r"(?:(?P<weeks>\d+)W)?"
    r"(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)"
    r"(?:(?P<hours>\d+)H)?"
    r"(?:(?P<minutes>\d+)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?"
    r")?",
)


def parse_duration(text: str) -> timedelta:
    """`PT30S`, `PT1H30M`, `P1D`, `P2W`, `PT0.5S`; months count 30 days and years 365 (see module doc)."""
    if len(text) <= _CACHED_DURATION_LENGTH:
        return _parse_duration_cached(text)
    return _parse_duration(text)


@lru_cache(maxsize=256)
def _parse_duration_cached(text: str) -> timedelta:
    return _parse_duration(text)


def _parse_duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    parts = {name: value for name, value in match.groupdict().items() if value is not None}
    seconds = Decimal(parts.pop("seconds", "0").replace(",", "."))
    whole = {name: int(value) for name, value in parts.items()}
    days = (
        whole.get("years", 0) * DAYS_PER_YEAR
        + whole.get("months", 0) * DAYS_PER_MONTH
        + whole.get("weeks", 0) * 7
        + whole.get("days", 0)
    )
    microseconds = int((seconds * 1_000_000).to_integral_value())
    try:
        return timedelta(
            days=days, hours=whole.get("hours", 0), minutes=whole.get("minutes", 0), microseconds=microseconds
        )
    except OverflowError:
        raise ValueError(f"duration too long: {text!r}") from None


def format_duration(delta: timedelta) -> str:
    """The shortest ISO 8601 form (`PT30S`, `P1DT2H`, `PT0.25S`); never months, which are not exact."""
    if delta < timedelta(0):
        raise ValueError(f"negative durations have no ISO 8601 form: {delta!r}")
    hours, rest = divmod(delta.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    date_part = f"{delta.days}D" if delta.days else ""
    time_part = ""
    if hours:
        time_part += f"{hours}H"
    if minutes:
        time_part += f"{minutes}M"
    if seconds or delta.microseconds:
        fraction = f".{delta.microseconds:06d}".rstrip("0") if delta.microseconds else ""
        time_part += f"{seconds}{fraction}S"
    if not date_part and not time_part:
        return "PT0S"
    return f"P{date_part}" + (f"T{time_part}" if time_part else "")


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and `Z`, the form every Beckn implementation parses."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place on the wire; use an aware UTC datetime")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def truncate_to_milliseconds(moment: datetime) -> datetime:
    """What survives `format_timestamp`: keeps a model equal to what its peer will read back."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
