"""Pure capacity arithmetic: what one device can deliver, and the peak load of overlapping reservations.

Controllable kW of a device in a direction (zero unless its kind serves the direction, see
`bpp.fleet.models.SERVED_DIRECTIONS`):

- solar inverter, flexible load, EV charger: its flex_kw;
- battery: its flex_kw, limited by the energy it can move over the window, spread evenly:
  discharging (REDUCE) by state_of_charge × capacity_kwh / hours, charging (INCREASE) by
  (1 − state_of_charge) × capacity_kwh / hours. A battery whose state of charge was never reported
  counts for nothing: we do not sell what we cannot see. For an instant (no window) only an empty
  (REDUCE) or full (INCREASE) battery is limited, to zero.

All results are rounded down to the watt, so rounding never sells a kW we do not have.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from bpp.fleet.models import KW_SCALE, SERVED_DIRECTIONS, Der, DerKind, FlexDirection

WATT = Decimal(1).scaleb(-KW_SCALE)
ZERO = Decimal(0)
SECONDS_PER_HOUR = Decimal(3600)

# (window_start, window_end, kw) of one reservation
Interval = tuple[datetime, datetime, Decimal]


def floor_kw(value: Decimal) -> Decimal:
    return value.quantize(WATT, rounding=ROUND_FLOOR)


def device_kw(der: Der, direction: FlexDirection, duration: timedelta | None = None) -> Decimal:
    """What this device can contribute in `direction` over a window of `duration` (None: an instant)."""
    if direction not in SERVED_DIRECTIONS[der.kind]:
        return ZERO
    if der.kind is not DerKind.BATTERY:
        return der.flex_kw
    if der.state_of_charge is None or der.battery_capacity_kwh is None:
        return ZERO
    charge = Decimal(str(der.state_of_charge))
    share = charge if direction is FlexDirection.REDUCE else 1 - charge
    energy_kwh = der.battery_capacity_kwh * share
    if energy_kwh <= 0:
        return ZERO
    if duration is None or duration <= timedelta(0):
        return der.flex_kw
    hours = Decimal(str(duration.total_seconds())) / SECONDS_PER_HOUR
    return min(der.flex_kw, floor_kw(energy_kwh / hours))


def sellable_kw(controllable_kw: Decimal, headroom: Decimal) -> Decimal:
    """Controllable kW less the reliability headroom kept back against devices that fail to respond."""
    return floor_kw(controllable_kw * (1 - headroom))


def peak_kw(intervals: Iterable[Interval], start: datetime, end: datetime) -> Decimal:
    """The largest total kW reserved at any instant of [start, end): a sweep over interval edges.

    Intervals are half-open, so one ending at 15:00 and another starting at 15:00 never overlap.
    """
    edges: list[tuple[datetime, int, Decimal]] = []
    for interval_start, interval_end, kw in intervals:
        clipped_start, clipped_end = max(interval_start, start), min(interval_end, end)
        if clipped_start < clipped_end:
            edges.append((clipped_start, 1, kw))
            edges.append((clipped_end, 0, -kw))
    edges.sort(key=lambda edge: (edge[0], edge[1]))  # at equal times, ends (0) before starts (1)
    load = peak = ZERO
    for _, _, delta in edges:
        load += delta
        peak = max(peak, load)
    return peak


def load_at(intervals: Iterable[Interval], at: datetime) -> Decimal:
    """Total kW reserved at the instant `at`."""
    return sum((kw for start, end, kw in intervals if start <= at < end), ZERO)
