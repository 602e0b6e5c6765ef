"""Delivered flexibility of an order: baseline against metered power, per interval, across its devices.

Per interval k, over the devices with a reading in it (the grid sees their sum, so devices net out):
raw_k = Σ baseline − Σ actual for REDUCE, Σ actual − Σ baseline for INCREASE (negative when the
devices moved the wrong way, and reported as such); paid_k = min(max(0, raw_k), committed_kw ×
max_paid_ratio), so one bad interval does not eat into another and over-delivery (the dispatcher's
headroom) neither inflates the bill nor makes up for a short interval; delivered_kwh =
Σ_k round(paid_k × interval hours). The order is COMPLETED when delivered_kwh ≥ round(committed_kw ×
event hours × tolerance), else PARTIAL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, Field, model_validator

from bpp.performance.baseline import BaselineResult
from bpp.performance.errors import InconsistentInputs
from bpp.performance.intervals import FROZEN, ZERO, event_intervals, hours, round_kw, round_kwh

DEFAULT_TOLERANCE = Decimal("0.95")
DEFAULT_MAX_PAID_RATIO = Decimal(1)
"""Paid kW per interval at most this multiple of the committed kW: what was contracted, no more."""


class FlexDirection(StrEnum):
    """REDUCE: less net import (less consumption or more export); INCREASE: more net import."""

    REDUCE = "REDUCE"
    INCREASE = "INCREASE"


class OrderState(StrEnum):
    COMPLETED = "COMPLETED"
    PARTIAL = "PARTIAL"


class DeviceMeasurement(BaseModel):
    """One device's baseline and metered kW per event interval (None: no telemetry, credited nothing)."""

    model_config = FROZEN

    device_id: str
    baseline: BaselineResult
    actual_kw: tuple[Decimal | None, ...]
    acked: bool = False
    opted_out: bool = False

    @model_validator(mode="after")
    def _one_reading_per_interval(self) -> Self:
        if len(self.actual_kw) != len(self.baseline.per_interval_kw):
            raise ValueError(
                f"device {self.device_id}: {len(self.actual_kw)} readings for "
                f"{len(self.baseline.per_interval_kw)} baseline intervals"
            )
        return self


class IntervalPerformance(BaseModel):
    """One interval of an order: sums over the devices measured in it, raw and paid delivery."""

    model_config = FROZEN

    start: datetime
    end: datetime
    committed_kw: Decimal
    baseline_kw: Decimal
    actual_kw: Decimal
    delivered_kw: Decimal
    paid_kw: Decimal
    delivered_kwh: Decimal
    raw_delivered_kwh: Decimal
    over_delivered_kwh: Decimal = Field(description="delivered above the paid cap: measured, not paid")
    devices_measured: int


class OrderPerformance(BaseModel):
    """The measured delivery of an order: the figures of the profile's `performance` tag group and more.

    `baseline_kw`, `actual_kw` and `delivered_kw` are means over the intervals (`delivered_kw` signed,
    positive when the devices moved as asked); `delivered_kwh` is the paid energy (never negative, never
    above the cap), `raw_delivered_kwh` the honest signed one and `over_delivered_kwh` what was delivered
    above the cap. `state` is the verdict once the event is over.
    """

    model_config = FROZEN

    direction: FlexDirection
    committed_kw: Decimal
    interval_start: datetime
    interval_end: datetime
    interval: timedelta
    per_interval: tuple[IntervalPerformance, ...]
    baseline_kw: Decimal
    actual_kw: Decimal
    delivered_kw: Decimal
    delivered_kwh: Decimal
    raw_delivered_kwh: Decimal
    over_delivered_kwh: Decimal
    committed_kwh: Decimal
    target_kwh: Decimal
    tolerance: Decimal
    max_paid_ratio: Decimal
    devices: int
    devices_acked: int
    devices_opted_out: int
    unmeasured: int = Field(description="device-intervals without telemetry, credited nothing")
    baseline_methods: tuple[str, ...]
    state: OrderState

    @property
    def intervals(self) -> int:
        return len(self.per_interval)

    @property
    def baseline_method(self) -> str | None:
        """The method every device's baseline used, or None when they differ (or there are none)."""
        return self.baseline_methods[0] if len(self.baseline_methods) == 1 else None

    @property
    def event_hours(self) -> Decimal:
        return hours(self.interval_end - self.interval_start)

    def tag_values(self) -> dict[str, Decimal | int | datetime | str]:
        """Values for `tag_group("performance", …)`; baseline_method only when all devices share one.

        delivered_kwh here is the signed raw figure ("energy delivered so far"); the paid figure goes
        in the settlement group.
        """
        values: dict[str, Decimal | int | datetime | str] = {
            "baseline_kw": self.baseline_kw,
            "actual_kw": self.actual_kw,
            "delivered_kw": self.delivered_kw,
            "delivered_kwh": self.raw_delivered_kwh,
            "devices_acked": self.devices_acked,
            "devices_opted_out": self.devices_opted_out,
            "intervals": self.intervals,
            "interval_start": self.interval_start,
            "interval_end": self.interval_end,
        }
        if self.baseline_method is not None:
            values["baseline_method"] = self.baseline_method
        return values


def measure_order(
    devices: Sequence[DeviceMeasurement],
    *,
    direction: FlexDirection,
    committed_kw: Decimal,
    window_start: datetime,
    window_end: datetime,
    interval: timedelta,
    tolerance: Decimal = DEFAULT_TOLERANCE,
    max_paid_ratio: Decimal = DEFAULT_MAX_PAID_RATIO,
) -> OrderPerformance:
    """Aggregate the devices of an order over its window; every baseline must be on the same intervals.

    Opted-out devices are still measured: the grid sees what they drew whether or not they took part.
    """
    if committed_kw < ZERO:
        raise InconsistentInputs(f"committed kW must not be negative, got {committed_kw}")
    if not ZERO < tolerance <= 1:
        raise InconsistentInputs(f"tolerance must be in (0, 1], got {tolerance}")
    if max_paid_ratio < 1:
        raise InconsistentInputs(f"max paid ratio must be at least 1, got {max_paid_ratio}")
    starts = event_intervals(window_start, window_end, interval)
    for device in devices:
        if device.baseline.interval_starts != starts:
            raise InconsistentInputs(f"device {device.device_id}: baseline is not on the order's intervals")
    direction = FlexDirection(direction)  # also accepts another StrEnum spelling the same values
    sign = 1 if direction is FlexDirection.REDUCE else -1
    interval_hours = hours(interval)
    rows = [
        _interval(devices, k, start, start + interval, committed_kw, max_paid_ratio, sign, interval_hours)
        for k, start in enumerate(starts)
    ]
    count = len(rows)
    committed_kwh = round_kwh(committed_kw * hours(window_end - window_start))
    target_kwh = round_kwh(committed_kw * hours(window_end - window_start) * tolerance)
    delivered_kwh = sum((row.delivered_kwh for row in rows), ZERO)
    return OrderPerformance(
        direction=direction,
        committed_kw=committed_kw,
        interval_start=window_start,
        interval_end=window_end,
        interval=interval,
        per_interval=tuple(rows),
        baseline_kw=round_kw(sum((row.baseline_kw for row in rows), ZERO) / count),
        actual_kw=round_kw(sum((row.actual_kw for row in rows), ZERO) / count),
        delivered_kw=round_kw(sum((row.delivered_kw for row in rows), ZERO) / count),
        delivered_kwh=delivered_kwh,
        raw_delivered_kwh=sum((row.raw_delivered_kwh for row in rows), ZERO),
        over_delivered_kwh=sum((row.over_delivered_kwh for row in rows), ZERO),
        committed_kwh=committed_kwh,
        target_kwh=target_kwh,
        tolerance=tolerance,
        max_paid_ratio=max_paid_ratio,
        devices=len(devices),
        devices_acked=sum(1 for device in devices if device.acked),
        devices_opted_out=sum(1 for device in devices if device.opted_out),
        unmeasured=sum(1 for device in devices for kw in device.actual_kw if kw is None),
        baseline_methods=tuple(sorted({device.baseline.method for device in devices})),
        state=OrderState.COMPLETED if delivered_kwh >= target_kwh else OrderState.PARTIAL,
    )


def _interval(
    devices: Sequence[DeviceMeasurement],
    k: int,
    start: datetime,
    end: datetime,
    committed_kw: Decimal,
    max_paid_ratio: Decimal,
    sign: int,
    interval_hours: Decimal,
) -> IntervalPerformance:
    measured = [(device.baseline.per_interval_kw[k], device.actual_kw[k]) for device in devices]
    pairs = [(baseline, actual) for baseline, actual in measured if actual is not None]
    baseline_kw = round_kw(sum((baseline for baseline, _ in pairs), ZERO))
    actual_kw = round_kw(sum((actual for _, actual in pairs), ZERO))
    raw_kw = sign * (baseline_kw - actual_kw)
    paid_cap_kw = round_kw(committed_kw * max_paid_ratio)
    paid_kw = min(max(raw_kw, ZERO), paid_cap_kw)
    return IntervalPerformance(
        start=start,
        end=end,
        committed_kw=committed_kw,
        baseline_kw=baseline_kw,
        actual_kw=actual_kw,
        delivered_kw=raw_kw,
        paid_kw=paid_kw,
        delivered_kwh=round_kwh(paid_kw * interval_hours),
        raw_delivered_kwh=round_kwh(raw_kw * interval_hours),
        over_delivered_kwh=round_kwh(max(raw_kw - paid_cap_kw, ZERO) * interval_hours),
        devices_measured=len(pairs),
    )
