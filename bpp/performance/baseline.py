"""Per-device baselines: what a device would have drawn in each event interval had there been no event.

Two methods, as used by real demand-response programmes:

- X-of-Y (default 10-of-10; 5-of-10 is "high 5 of 10"): from up to Y prior eligible days, average per
  interval the X days with the highest load over the event window, then apply a capped same-day
  adjustment (`bpp.performance.adjustment`).
- Meter before/after, for batteries, EV chargers and new devices without history: the mean of the
  last N intervals before the event, optionally extended along their least-squares trend.

`choose_baseline` picks between them and says which it used and why, in `BaselineResult.notes[0]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, Field, model_validator

from bpp.performance.adjustment import AdjustmentKind, SameDayAdjustment, not_applied, same_day_adjustment
from bpp.performance.calendar import BaselineCalendar, days_earlier, local_date
from bpp.performance.errors import BaselineUnavailable
from bpp.performance.intervals import (
    DEFAULT_INTERVAL,
    FROZEN,
    ZERO,
    LoadHistory,
    event_intervals,
    hours,
    mean,
    round_kw,
)
from schemas.core_v1 import format_decimal


class BaselineKind(StrEnum):
    X_OF_Y = "X_OF_Y"
    METER_BEFORE_AFTER = "METER_BEFORE_AFTER"


class XOfYRule(BaseModel):
    """Parameters of an X-of-Y baseline; the defaults are 10-of-10 with a ±20 % multiplicative adjustment.

    Fewer than `min_days` eligible days within `lookback_days` means the history is too thin and
    `choose_baseline` falls back to meter before/after; between `min_days` and Y days, the highest
    min(X, days) of them are averaged.
    """

    model_config = FROZEN

    x: int = Field(10, ge=1)
    y: int = Field(10, ge=1)
    min_days: int = Field(5, ge=1)
    lookback_days: int = Field(45, ge=1)
    adjustment: AdjustmentKind = AdjustmentKind.MULTIPLICATIVE
    adjustment_intervals: int = Field(4, ge=1)
    adjustment_lag: timedelta = timedelta(hours=1)
    adjustment_cap: Decimal = Field(Decimal("0.20"), ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.x > self.y:
            raise ValueError(f"x ({self.x}) must not exceed y ({self.y})")
        if self.min_days > self.y:
            raise ValueError(f"min_days ({self.min_days}) must not exceed y ({self.y})")
        if self.adjustment_lag < timedelta(0):
            raise ValueError("adjustment_lag must not be negative")
        return self

    @property
    def label(self) -> str:
        return f"X_OF_Y_{self.x}_{self.y}"


class MeterRule(BaseModel):
    """Meter before/after: the mean of the last `intervals` intervals before the event, or their trend."""

    model_config = FROZEN

    intervals: int = Field(4, ge=1)
    trend: bool = False


DEFAULT_X_OF_Y = XOfYRule()
DEFAULT_METER = MeterRule()
NO_DAYS: frozenset[date] = frozenset()


class BaselineResult(BaseModel):
    """A device's baseline per event interval and an account of how it was made.

    `method` is the label offers and the profile's baseline_method tag use (`X_OF_Y_10_10`, `X_OF_Y_5_10`,
    `METER_BEFORE_AFTER`); `notes[0]` is a one-line account of what was done and why.
    """

    model_config = FROZEN

    method: str
    kind: BaselineKind
    event_start: datetime
    interval: timedelta
    per_interval_kw: tuple[Decimal, ...]
    unadjusted_kw: tuple[Decimal, ...]
    days_used: tuple[date, ...] = ()
    adjustment: SameDayAdjustment | None = None
    notes: tuple[str, ...]

    @property
    def event_end(self) -> datetime:
        return self.event_start + len(self.per_interval_kw) * self.interval

    @property
    def interval_starts(self) -> tuple[datetime, ...]:
        return tuple(self.event_start + k * self.interval for k in range(len(self.per_interval_kw)))


@dataclass(frozen=True)
class _Day:
    day: date
    back: int
    loads: tuple[Decimal, ...]

    @property
    def total(self) -> Decimal:
        return sum(self.loads, ZERO)


def x_of_y_baseline(
    history: LoadHistory,
    event_start: datetime,
    event_end: datetime,
    *,
    interval: timedelta = DEFAULT_INTERVAL,
    rule: XOfYRule = DEFAULT_X_OF_Y,
    calendar: BaselineCalendar | None = None,
    event_days: frozenset[date] = NO_DAYS,
) -> BaselineResult:
    """The X-of-Y baseline with its same-day adjustment; `BaselineUnavailable` below `rule.min_days`.

    Eligible days: the Y most recent days before the event day, within `rule.lookback_days`, of the
    event day's type under `calendar` (all days without one), not in `event_days`, with a reading in
    every event interval. Unadjusted B_k = mean of L_{d,k} over the X eligible days with the highest
    Σ_k L_{d,k} (ties: the more recent day). Adjusted B_k per `bpp.performance.adjustment`.
    """
    starts = event_intervals(event_start, event_end, interval)
    zone = calendar.zone if calendar else UTC
    eligible, skipped = _eligible_days(history, starts, rule, calendar, event_days, zone)
    if len(eligible) < rule.min_days:
        raise BaselineUnavailable(
            f"only {len(eligible)} eligible days of history (needs {rule.min_days}{_skipped_text(skipped)})"
        )
    top = sorted(eligible, key=lambda day: -day.total)[: rule.x]
    unadjusted = [mean(day.loads[k] for day in top) for k in range(len(starts))]
    adjustment = _adjustment(history, event_start, interval, rule, top, zone)
    notes = [
        f"{rule.label} {adjustment.headline}",
        f"averaged the {len(top)} highest-load of {len(eligible)} eligible days{_skipped_text(skipped)}",
    ]
    if len(eligible) < rule.y:
        notes.append(f"only {len(eligible)} eligible days in the last {rule.lookback_days} (wanted {rule.y})")
    notes.append(f"same-day adjustment: {adjustment.note}")
    return BaselineResult(
        method=rule.label,
        kind=BaselineKind.X_OF_Y,
        event_start=event_start,
        interval=interval,
        per_interval_kw=tuple(round_kw(adjustment.apply(kw)) for kw in unadjusted),
        unadjusted_kw=tuple(round_kw(kw) for kw in unadjusted),
        days_used=tuple(sorted(day.day for day in top)),
        adjustment=adjustment,
        notes=tuple(notes),
    )


def meter_before_after_baseline(
    history: LoadHistory,
    event_start: datetime,
    event_end: datetime,
    *,
    interval: timedelta = DEFAULT_INTERVAL,
    rule: MeterRule = DEFAULT_METER,
) -> BaselineResult:
    """Baseline from the N intervals just before the event; `BaselineUnavailable` if none has a reading.

    Flat: B_k = ȳ, the mean of the readings at positions t = −N … −1 (interval k of the event is t = k).
    With `rule.trend` and at least two readings: B_k = ȳ + s × (k − t̄), s the least-squares slope.
    """
    starts = event_intervals(event_start, event_end, interval)
    points = [
        (Decimal(-position), history[moment])
        for position in range(rule.intervals, 0, -1)
        if (moment := event_start - position * interval) in history
    ]
    if not points:
        raise BaselineUnavailable(f"no readings in the {rule.intervals} intervals before the event")
    t_mean = mean(t for t, _ in points)
    y_mean = mean(y for _, y in points)
    slope = ZERO
    if rule.trend and len(points) > 1:
        spread = sum(((t - t_mean) ** 2 for t, _ in points), ZERO)
        slope = sum(((t - t_mean) * (y - y_mean) for t, y in points), ZERO) / spread
    per_interval = tuple(round_kw(y_mean + slope * (k - t_mean)) for k in range(len(starts)))
    trend = rule.trend and len(points) > 1
    shape = f"trend {format_decimal(round_kw(slope))} kW per interval" if trend else "flat"
    fit = "least-squares trend" if trend else "mean"
    notes = [
        f"{BaselineKind.METER_BEFORE_AFTER}: {fit} of the last {rule.intervals} intervals before the event",
        f"{len(points)} of {rule.intervals} intervals had readings, "
        f"mean {format_decimal(round_kw(y_mean))} kW, {shape}",
    ]
    return BaselineResult(
        method=BaselineKind.METER_BEFORE_AFTER.value,
        kind=BaselineKind.METER_BEFORE_AFTER,
        event_start=event_start,
        interval=interval,
        per_interval_kw=per_interval,
        unadjusted_kw=per_interval,
        notes=tuple(notes),
    )


def choose_baseline(
    history: LoadHistory,
    event_start: datetime,
    event_end: datetime,
    *,
    interval: timedelta = DEFAULT_INTERVAL,
    preferred: BaselineKind = BaselineKind.X_OF_Y,
    x_of_y: XOfYRule = DEFAULT_X_OF_Y,
    meter: MeterRule = DEFAULT_METER,
    calendar: BaselineCalendar | None = None,
    event_days: frozenset[date] = NO_DAYS,
) -> BaselineResult:
    """The preferred method when the history supports it, else meter before/after; notes[0] says which.

    Raises `BaselineUnavailable` only when neither method has data.
    """
    if preferred is BaselineKind.X_OF_Y:
        try:
            return x_of_y_baseline(
                history,
                event_start,
                event_end,
                interval=interval,
                rule=x_of_y,
                calendar=calendar,
                event_days=event_days,
            )
        except BaselineUnavailable as exc:
            reason = exc.reason
    else:
        reason = "the offer's terms ask for it"
    try:
        result = meter_before_after_baseline(history, event_start, event_end, interval=interval, rule=meter)
    except BaselineUnavailable as exc:
        raise BaselineUnavailable(f"{reason}; and {exc.reason}") from exc
    headline = f"{BaselineKind.METER_BEFORE_AFTER}: {reason}"
    return result.model_copy(update={"notes": (headline, *result.notes)})


def _eligible_days(
    history: LoadHistory,
    starts: Sequence[datetime],
    rule: XOfYRule,
    calendar: BaselineCalendar | None,
    event_days: frozenset[date],
    zone: tzinfo,
) -> tuple[list[_Day], dict[str, int]]:
    event_date = local_date(starts[0], zone)
    business = calendar.is_business_day(event_date) if calendar else True
    eligible: list[_Day] = []
    skipped = {"days of the other day type": 0, "prior event days": 0, "days with missing data": 0}
    for back in range(1, rule.lookback_days + 1):
        if len(eligible) == rule.y:
            break
        day = event_date - timedelta(days=back)
        if day in event_days:
            skipped["prior event days"] += 1
            continue
        if calendar is not None and calendar.is_business_day(day) != business:
            skipped["days of the other day type"] += 1
            continue
        loads = [history.get(days_earlier(start, back, zone)) for start in starts]
        present = [kw for kw in loads if kw is not None]
        if len(present) < len(loads):
            skipped["days with missing data"] += 1
            continue
        eligible.append(_Day(day=day, back=back, loads=tuple(present)))
    return eligible, skipped


def _skipped_text(skipped: dict[str, int]) -> str:
    parts = [f"{count} {why}" for why, count in skipped.items() if count]
    return f"; skipped {', '.join(parts)}" if parts else ""


def _adjustment(
    history: LoadHistory,
    event_start: datetime,
    interval: timedelta,
    rule: XOfYRule,
    top: Sequence[_Day],
    zone: tzinfo,
) -> SameDayAdjustment:
    if rule.adjustment is AdjustmentKind.NONE:
        return not_applied(rule.adjustment, rule.adjustment_cap, "not configured")
    window_end = event_start - rule.adjustment_lag
    count = rule.adjustment_intervals
    window = [window_end - (count - j) * interval for j in range(count)]
    actual = [history.get(moment) for moment in window]
    baseline: list[Decimal | None] = []
    for moment in window:
        loads = [history.get(days_earlier(moment, day.back, zone)) for day in top]
        present = [kw for kw in loads if kw is not None]
        baseline.append(mean(present) if len(present) == len(loads) else None)
    described = (
        f"the {count} intervals {window[0].astimezone(UTC):%H:%M}–"
        f"{window_end.astimezone(UTC):%H:%M} UTC"
        f" ending {format_decimal(hours(rule.adjustment_lag))} h before the start"
    )
    return same_day_adjustment(rule.adjustment, rule.adjustment_cap, actual, baseline, described)
