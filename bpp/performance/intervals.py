"""Metering intervals: the time grid and the units every baseline, delivery and settlement figure uses.

Power is net import in kW (positive while consuming, negative while exporting), averaged over an
interval and keyed by the interval's start. Figures are rounded to the watt and the watt-hour,
half to even, so results are exact decimals that sum the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from pydantic import ConfigDict

from bpp.performance.errors import InvalidWindow

FROZEN = ConfigDict(frozen=True, extra="forbid")
KW_QUANTUM = Decimal("0.001")
KWH_QUANTUM = Decimal("0.001")
DEFAULT_INTERVAL = timedelta(minutes=15)
ZERO = Decimal(0)
_MICROSECONDS_PER_HOUR = Decimal(3_600_000_000)

LoadHistory = Mapping[datetime, Decimal]
"""Average kW of one device per interval, keyed by the interval's (timezone-aware) start."""


def round_kw(value: Decimal) -> Decimal:
    return value.quantize(KW_QUANTUM, rounding=ROUND_HALF_EVEN)


def round_kwh(value: Decimal) -> Decimal:
    return value.quantize(KWH_QUANTUM, rounding=ROUND_HALF_EVEN)


def hours(duration: timedelta) -> Decimal:
    """A duration in hours as an exact decimal (to 28 significant digits), never a float."""
    return Decimal(duration // timedelta(microseconds=1)) / _MICROSECONDS_PER_HOUR


def mean(values: Iterable[Decimal]) -> Decimal:
    """Arithmetic mean of at least one value, unrounded."""
    items = list(values)
    if not items:
        raise ValueError("mean of no values")
    return sum(items, ZERO) / len(items)


def event_intervals(start: datetime, end: datetime, interval: timedelta) -> tuple[datetime, ...]:
    """The starts of the intervals that tile [start, end); the window must be a whole number of them."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidWindow("event times must be timezone-aware")
    if interval <= timedelta(0):
        raise InvalidWindow(f"interval must be positive, got {interval}")
    if end <= start:
        raise InvalidWindow(f"event end {end.isoformat()} is not after its start {start.isoformat()}")
    count, rest = divmod(end - start, interval)
    if rest:
        raise InvalidWindow(f"event window {end - start} is not a whole number of {interval} intervals")
    return tuple(start + k * interval for k in range(count))


def average_by_interval(
    samples: Iterable[tuple[datetime, Decimal]], start: datetime, end: datetime, interval: timedelta
) -> dict[datetime, Decimal]:
    """Telemetry samples `(ts, kW)` to interval averages over [start, end), rounded to the watt.

    A plain mean of the samples that fall in each interval (telemetry arrives at a steady rate);
    intervals without a sample are left out rather than guessed.
    """
    starts = event_intervals(start, end, interval)
    buckets: dict[datetime, list[Decimal]] = {}
    for ts, kw in samples:
        if start <= ts < end:
            buckets.setdefault(starts[(ts - start) // interval], []).append(kw)
    return {bucket: round_kw(mean(values)) for bucket, values in sorted(buckets.items())}
