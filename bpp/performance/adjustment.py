"""Same-day adjustment: scale a day-matched baseline to how the device behaved on the event day itself.

Over an adjustment window before the event (by default the 4 intervals ending 1 h before the start,
so pre-cooling or early curtailment in the notice period cannot inflate it):

- multiplicative: ratio = Σ actual / Σ baseline over the window; factor = clamp(ratio, 1 − cap, 1 + cap);
  adjusted baseline = baseline × factor (CAISO's 10-in-10 with a ±20 % capped load-point adjustment);
- additive: offset = mean(actual) − mean(baseline) over the window, clamped to ±cap × |mean(baseline)|;
  adjusted baseline = baseline + offset (PJM's same-day additive adjustment, capped the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel

from bpp.performance.intervals import FROZEN, ZERO, mean


class AdjustmentKind(StrEnum):
    MULTIPLICATIVE = "MULTIPLICATIVE"
    ADDITIVE = "ADDITIVE"
    NONE = "NONE"


class SameDayAdjustment(BaseModel):
    """The adjustment applied (`value` a factor or kW offset; None when none was applied) and why."""

    model_config = FROZEN

    kind: AdjustmentKind
    value: Decimal | None
    uncapped: Decimal | None
    capped: bool
    cap: Decimal
    note: str

    @property
    def applied(self) -> bool:
        return self.value is not None

    def apply(self, kw: Decimal) -> Decimal:
        if self.value is None:
            return kw
        if self.kind is AdjustmentKind.MULTIPLICATIVE:
            return kw * self.value
        return kw + self.value

    @property
    def headline(self) -> str:
        """A phrase for the baseline's first note, e.g. "with +12.0 % same-day adjustment (cap ±20.0 %)"."""
        if self.value is None:
            return f"without same-day adjustment ({self.note})"
        cap = f"{_percent(self.cap)} %"
        if self.kind is AdjustmentKind.MULTIPLICATIVE:
            change = f"{_signed_percent(self.value - 1)} %"
        else:
            change = f"{_signed(self.value)} kW"
        if self.capped:
            return f"with {change} same-day adjustment (capped at ±{cap})"
        return f"with {change} same-day adjustment (cap ±{cap})"


def not_applied(kind: AdjustmentKind, cap: Decimal, reason: str) -> SameDayAdjustment:
    return SameDayAdjustment(kind=kind, value=None, uncapped=None, capped=False, cap=cap, note=reason)


def same_day_adjustment(
    kind: AdjustmentKind,
    cap: Decimal,
    actual_kw: Sequence[Decimal | None],
    baseline_kw: Sequence[Decimal | None],
    window: str,
) -> SameDayAdjustment:
    """The capped adjustment from event-day `actual_kw` against `baseline_kw` over the same window.

    `window` describes the adjustment window in words for the note. Missing data on either side, or a
    non-positive multiplicative denominator, means no adjustment rather than a guess.
    """
    if kind is AdjustmentKind.NONE:
        return not_applied(kind, cap, "adjustment not configured")
    actual = [kw for kw in actual_kw if kw is not None]
    baseline = [kw for kw in baseline_kw if kw is not None]
    if not actual_kw or len(actual) < len(actual_kw):
        return not_applied(kind, cap, f"no event-day telemetry for all of {window}")
    if len(baseline) < len(baseline_kw):
        return not_applied(kind, cap, f"baseline days lack data for {window}")
    actual_mean, baseline_mean = mean(actual), mean(baseline)
    if kind is AdjustmentKind.MULTIPLICATIVE:
        if baseline_mean <= ZERO:
            return not_applied(kind, cap, f"baseline over {window} is {baseline_mean} kW, no ratio")
        ratio = sum(actual, ZERO) / sum(baseline, ZERO)
        factor = min(max(ratio, 1 - cap), 1 + cap)
        note = (
            f"ratio {_short(ratio)} = actual {_short(actual_mean)} kW / baseline {_short(baseline_mean)} kW "
            f"over {window}"
        )
        return SameDayAdjustment(
            kind=kind, value=factor, uncapped=ratio, capped=factor != ratio, cap=cap, note=note
        )
    offset = actual_mean - baseline_mean
    limit = cap * abs(baseline_mean)
    bounded = min(max(offset, -limit), limit)
    note = (
        f"offset {_short(offset)} kW = actual {_short(actual_mean)} kW − baseline {_short(baseline_mean)} kW "
        f"over {window}"
    )
    return SameDayAdjustment(
        kind=kind, value=bounded, uncapped=offset, capped=bounded != offset, cap=cap, note=note
    )


def _short(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.0001")).normalize(), "f")


def _percent(fraction: Decimal) -> str:
    return format((fraction * 100).quantize(Decimal("0.1")), "f")


def _signed_percent(fraction: Decimal) -> str:
    text = _percent(fraction)
    return text if text.startswith("-") else f"+{text}"


def _signed(value: Decimal) -> str:
    text = _short(value)
    return text if text.startswith("-") else f"+{text}"
