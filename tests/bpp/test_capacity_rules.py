"""Capacity arithmetic without a database: peak concurrency and what a device can deliver."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bpp.capacity.rules import device_kw, load_at, peak_kw, sellable_kw
from bpp.fleet.models import Der, DerKind, DerStatus, FlexDirection
from tests.bpp.factories import NODE, at

REDUCE, INCREASE = FlexDirection.REDUCE, FlexDirection.INCREASE


def test_back_to_back_reservations_do_not_overlap() -> None:
    intervals = [(at(0), at(1), Decimal(50)), (at(1), at(2), Decimal(50))]
    assert peak_kw(intervals, at(0), at(2)) == Decimal(50)


def test_overlap_is_the_peak_not_the_sum() -> None:
    intervals = [
        (at(0), at(1.5), Decimal(50)),
        (at(1), at(2), Decimal(30)),
        (at(1.75), at(3), Decimal(40)),
        (at(0.25), at(0.5), Decimal(10)),
    ]
    assert peak_kw(intervals, at(0), at(3)) == Decimal(80)
    assert peak_kw(intervals, at(1.6), at(3)) == Decimal(70)


def test_only_the_part_inside_the_window_counts() -> None:
    intervals = [(at(-2), at(0), Decimal(90)), (at(0.5), at(5), Decimal(20)), (at(3), at(4), Decimal(60))]
    assert peak_kw(intervals, at(0), at(1)) == Decimal(20)
    assert peak_kw([], at(0), at(1)) == 0
    assert load_at(intervals, at(0)) == 0 and load_at(intervals, at(3)) == Decimal(80)


def _der(kind: DerKind, flex: str = "10", capacity: str | None = "20", soc: float | None = 0.5) -> Der:
    return Der(
        device_id="d",
        kind=kind,
        grid_node=NODE,
        rated_kw=Decimal(flex),
        flex_kw=Decimal(flex),
        battery_capacity_kwh=Decimal(capacity) if capacity else None,
        state_of_charge=soc,
        status=DerStatus.ONLINE,
    )


@pytest.mark.parametrize(
    ("kind", "direction", "expected"),
    [
        (DerKind.FLEXIBLE_LOAD, REDUCE, "10"),
        (DerKind.EV_CHARGER, REDUCE, "10"),
        (DerKind.SOLAR_INVERTER, INCREASE, "10"),
        (DerKind.FLEXIBLE_LOAD, INCREASE, "0"),
        (DerKind.EV_CHARGER, INCREASE, "0"),
        (DerKind.SOLAR_INVERTER, REDUCE, "0"),
    ],
)
def test_kinds_serve_their_directions(kind: DerKind, direction: FlexDirection, expected: str) -> None:
    assert device_kw(_der(kind, capacity=None, soc=None), direction, timedelta(hours=1)) == Decimal(expected)


@pytest.mark.parametrize(
    ("soc", "direction", "hours", "expected"),
    [
        (0.5, REDUCE, 2, "5"),  # 10 kWh stored over 2 h
        (0.5, REDUCE, 0.5, "10"),  # energy would allow 20 kW; the inverter 10
        (0.5, REDUCE, 3, "3.333"),  # rounded down to the watt
        (0.75, INCREASE, 1, "5"),  # room for 5 kWh
        (0.0, REDUCE, None, "0"),  # empty: nothing to discharge even for an instant
        (1.0, INCREASE, None, "0"),  # full: cannot absorb
        (0.2, REDUCE, None, "10"),
        (None, REDUCE, 1, "0"),  # never reported: not sold
    ],
)
def test_a_battery_is_limited_by_its_energy_over_the_window(
    soc: float | None, direction: FlexDirection, hours: float | None, expected: str
) -> None:
    duration = timedelta(hours=hours) if hours is not None else None
    assert device_kw(_der(DerKind.BATTERY, soc=soc), direction, duration) == Decimal(expected)


def test_headroom_is_kept_back_and_rounding_never_sells_more() -> None:
    assert sellable_kw(Decimal(150), Decimal("0.1")) == Decimal(135)
    assert sellable_kw(Decimal("0.019"), Decimal("0.5")) == Decimal("0.009")
