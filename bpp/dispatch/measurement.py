"""Measuring an order from what its devices reported: a baseline per device, metered kW per interval,
and the order's delivery (`bpp.performance.measure_order`), so far or final.

Each device's baseline is made once, the first time the device is measured, and kept with the method
and the reason for it (`bpp_order_devices`): X-of-Y from the device's own history when it has enough
like days, otherwise meter before/after from the intervals just before the event. A device with
neither is measured as unmeasurable (credited nothing) rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.dispatch.intervals import bucket_start, completed, grid_ceiling, measured_span
from bpp.dispatch.models import CommandStatus, DeviceCommand, DispatchPlan, OrderDevice
from bpp.dispatch.readings import OrderDeviceRepository, ReadingRepository
from bpp.dispatch.repository import CommandRepository
from bpp.fleet.models import FlexDirection
from bpp.orders.models import Order
from bpp.orders.service import snapshot_of
from bpp.performance.baseline import (
    DEFAULT_METER,
    BaselineKind,
    BaselineResult,
    XOfYRule,
    choose_baseline,
)
from bpp.performance.delivery import DeviceMeasurement, OrderPerformance, measure_order
from bpp.performance.delivery import FlexDirection as DeliveryDirection
from bpp.performance.errors import BaselineUnavailable
from bpp.performance.intervals import ZERO, hours, round_kw, round_kwh

UNAVAILABLE = "METER_BEFORE_AFTER_UNAVAILABLE"
"""The method label of a device that had no readings to make any baseline from."""

_X_OF_Y = re.compile(r"^X_OF_Y_(\d+)_(\d+)")


def span_of(order: Order, plan: DispatchPlan) -> tuple[datetime, datetime]:
    """The intervals an order is measured on: the whole ones inside its window, else those covering it."""
    size = timedelta(seconds=plan.interval_s)
    inside = measured_span(order.window_start, order.window_end, size)
    return inside or (bucket_start(order.window_start, size), grid_ceiling(order.window_end, size))


def preferred_baseline(order: Order) -> tuple[BaselineKind, XOfYRule]:
    """The offer's baseline method as `choose_baseline` takes it (X-of-Y 10-of-10 unless it says so)."""
    method = snapshot_of(order).baseline_method
    match = _X_OF_Y.match(method)
    if match is not None:
        x, y = int(match.group(1)), int(match.group(2))
        return BaselineKind.X_OF_Y, XOfYRule(x=x, y=y, min_days=min(5, y))
    if method.startswith(BaselineKind.METER_BEFORE_AFTER.value):
        return BaselineKind.METER_BEFORE_AFTER, XOfYRule()
    return BaselineKind.X_OF_Y, XOfYRule()


@dataclass(frozen=True)
class Measurement:
    performance: OrderPerformance
    devices: dict[str, OrderDevice]


async def measure(
    session: AsyncSession, order: Order, plan: DispatchPlan, *, now: datetime, final: bool
) -> Measurement | None:
    """The order's delivery over the intervals that have ended (all of them when `final`); None before
    the first one has ended. Per-device figures are stored as a side effect."""
    size = timedelta(seconds=plan.interval_s)
    span = span_of(order, plan)
    done = (span[1] - span[0]) // size if final else completed(span, size, now)
    if done == 0:
        return None
    until = span[0] + done * size
    taking_part = devices_taking_part(await CommandRepository(session).of_order(order.id))
    rows = await _baselines(session, order, plan, span, sorted(taking_part))
    readings = await ReadingRepository(session).averages(sorted(taking_part), [(span[0], until)])
    measured: list[DeviceMeasurement] = []
    for device_id, (acked, opted_out) in sorted(taking_part.items()):
        row = rows[device_id]
        baseline = BaselineResult.model_validate(row.baseline)
        baseline = baseline.model_copy(
            update={
                "per_interval_kw": baseline.per_interval_kw[:done],
                "unadjusted_kw": baseline.unadjusted_kw[:done],
            }
        )
        device_readings = readings.get(device_id, {})
        actual = tuple(
            _average(device_readings.get(span[0] + k * size)) if row.baseline_method != UNAVAILABLE else None
            for k in range(done)
        )
        measured.append(
            DeviceMeasurement(
                device_id=device_id, baseline=baseline, actual_kw=actual, acked=acked, opted_out=opted_out
            )
        )
        _figures(row, baseline, actual, order.direction, size, acked, opted_out, now)
    performance = measure_order(
        measured,
        direction=DeliveryDirection(order.direction.value),
        committed_kw=order.kw,
        window_start=span[0],
        window_end=until,
        interval=size,
    )
    await session.flush()
    return Measurement(performance, rows)


def devices_taking_part(commands: Sequence[DeviceCommand]) -> dict[str, tuple[bool, bool]]:
    """Devices that were sent a command for the order, with (acked, opted out)."""
    devices: dict[str, tuple[bool, bool]] = {}
    for command in commands:
        if command.published_at is None:
            continue
        acked, opted_out = devices.get(command.device_id, (False, False))
        devices[command.device_id] = (
            acked or command.last_ack_status is not None,
            opted_out or command.status is CommandStatus.OPTED_OUT,
        )
    return devices


def _average(bucket: tuple[Decimal, int] | None) -> Decimal | None:
    if bucket is None or bucket[1] == 0:
        return None
    total, samples = bucket
    return round_kw(total / samples)


async def _baselines(
    session: AsyncSession,
    order: Order,
    plan: DispatchPlan,
    span: tuple[datetime, datetime],
    device_ids: list[str],
) -> dict[str, OrderDevice]:
    """Stored baselines, making (and storing) those of devices measured for the first time."""
    repository = OrderDeviceRepository(session)
    rows = await repository.of_order(order.id)
    missing = [device_id for device_id in device_ids if device_id not in rows]
    if not missing:
        return rows
    size = timedelta(seconds=plan.interval_s)
    preferred, rule = preferred_baseline(order)
    spans = _history_spans(span, size, rule, quiet_until=bucket_start(order.window_start, size))
    history = await ReadingRepository(session).averages(missing, spans)
    event_days = await CommandRepository(session).event_days(missing, before=span[0])
    new_rows = []
    for device_id in missing:
        loads = {
            start: average
            for start, bucket in history.get(device_id, {}).items()
            if (average := _average(bucket)) is not None
        }
        baseline = _baseline(loads, span, size, preferred, rule, frozenset(event_days.get(device_id, set())))
        new_rows.append(
            OrderDevice(
                order_id=order.id,
                device_id=device_id,
                baseline_method=baseline.method,
                baseline_note=baseline.notes[0] if baseline.notes else "",
                baseline=baseline.model_dump(mode="json"),
                actual_kw=[],
            )
        )
    await repository.add_all(new_rows)
    rows.update({row.device_id: row for row in new_rows})
    return rows


def _history_spans(
    span: tuple[datetime, datetime], size: timedelta, rule: XOfYRule, *, quiet_until: datetime
) -> list[tuple[datetime, datetime]]:
    """The slices of history the baselines read: the event's hours on each earlier day (and the same-day
    adjustment window before them), and the intervals just before the event.

    On the event day only intervals that end before the window starts count (`quiet_until`, the start of
    the interval holding the window's start): a window off the metering grid begins inside an interval
    that is not measured, yet the devices were already moving in it, so it is no baseline either.
    """
    start, end = span
    before = rule.adjustment_lag + rule.adjustment_intervals * size
    spans = [(start - DEFAULT_METER.intervals * size, quiet_until), (start - before, quiet_until)]
    spans += [
        (start - day * timedelta(days=1) - before, end - day * timedelta(days=1))
        for day in range(1, rule.lookback_days + 1)
    ]
    return spans


def _baseline(
    loads: dict[datetime, Decimal],
    span: tuple[datetime, datetime],
    size: timedelta,
    preferred: BaselineKind,
    rule: XOfYRule,
    event_days: frozenset[date],
) -> BaselineResult:
    try:
        return choose_baseline(
            loads, span[0], span[1], interval=size, preferred=preferred, x_of_y=rule, event_days=event_days
        )
    except BaselineUnavailable as exc:
        count = (span[1] - span[0]) // size
        return BaselineResult(
            method=UNAVAILABLE,
            kind=BaselineKind.METER_BEFORE_AFTER,
            event_start=span[0],
            interval=size,
            per_interval_kw=(ZERO,) * count,
            unadjusted_kw=(ZERO,) * count,
            notes=(f"{UNAVAILABLE}: {exc.reason}; the device is not measured",),
        )


def _figures(
    row: OrderDevice,
    baseline: BaselineResult,
    actual: tuple[Decimal | None, ...],
    direction: FlexDirection,
    size: timedelta,
    acked: bool,
    opted_out: bool,
    now: datetime,
) -> None:
    """The device's own delivery, signed as the order's: baseline − actual for REDUCE."""
    sign = 1 if direction is FlexDirection.REDUCE else -1
    deltas = [sign * (b - a) for b, a in zip(baseline.per_interval_kw, actual, strict=True) if a is not None]
    row.actual_kw = [None if value is None else str(value) for value in actual]
    row.delivered_kw = round_kw(sum(deltas, ZERO) / len(deltas)) if deltas else None
    row.delivered_kwh = sum((round_kwh(delta * hours(size)) for delta in deltas), ZERO) if deltas else None
    row.acked, row.opted_out, row.updated_at = acked, opted_out, now
