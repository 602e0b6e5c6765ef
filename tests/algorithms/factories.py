"""Load histories and baselines for the algorithm tests, built so the expected figures are easy by hand."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from bpp.performance.baseline import BaselineKind, BaselineResult

QUARTER = timedelta(minutes=15)

# Event windows of the worked examples: 17:00–18:00 UTC, four 15-minute intervals.
EVENT_TIME = time(17, 0)
EVENT_OFFSETS = (Decimal(0), Decimal(2), Decimal(4), Decimal(2))


def at(day: date, clock: time = EVENT_TIME) -> datetime:
    return datetime.combine(day, clock, tzinfo=UTC)


def day_loads(
    day: date, kw: Decimal, *, shape: Callable[[datetime], Decimal] | None = None
) -> dict[datetime, Decimal]:
    """A whole day of 15-minute readings at `kw`, plus `shape(start)` where given."""
    start = at(day, time(0))
    readings: dict[datetime, Decimal] = {}
    for k in range(96):
        moment = start + k * QUARTER
        readings[moment] = kw + (shape(moment) if shape else Decimal(0))
    return readings


def event_shape(moment: datetime) -> Decimal:
    """+0, +2, +4, +2 kW over the four event intervals 17:00–18:00, flat elsewhere."""
    offset = (moment.hour - 17) * 4 + moment.minute // 15
    return EVENT_OFFSETS[offset] if moment.hour == 17 else Decimal(0)


def history_of(days: Iterable[tuple[date, Decimal]], *, shaped: bool = True) -> dict[datetime, Decimal]:
    history: dict[datetime, Decimal] = {}
    for day, kw in days:
        history.update(day_loads(day, kw, shape=event_shape if shaped else None))
    return history


def with_event_day_actual(
    history: dict[datetime, Decimal], day: date, kw: Decimal, *, start: time = time(15, 0), count: int = 4
) -> dict[datetime, Decimal]:
    """Event-day readings in the adjustment window (by default 15:00–16:00, ending 1 h before 17:00)."""
    updated = dict(history)
    for k in range(count):
        updated[at(day, start) + k * QUARTER] = kw
    return updated


def baseline(
    per_interval_kw: Iterable[Decimal | int | str],
    *,
    start: datetime,
    interval: timedelta = QUARTER,
    method: str = "X_OF_Y_10_10",
) -> BaselineResult:
    values = tuple(Decimal(value) for value in per_interval_kw)
    return BaselineResult(
        method=method,
        kind=BaselineKind.X_OF_Y if method.startswith("X_OF_Y") else BaselineKind.METER_BEFORE_AFTER,
        event_start=start,
        interval=interval,
        per_interval_kw=values,
        unadjusted_kw=values,
        notes=("made by a test",),
    )
