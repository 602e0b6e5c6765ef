"""Delivered flexibility worked by hand: per interval, across devices, raw versus paid, and the verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from bpp.performance.delivery import (
    DEFAULT_TOLERANCE,
    DeviceMeasurement,
    FlexDirection,
    OrderPerformance,
    OrderState,
    measure_order,
)
from bpp.performance.errors import InconsistentInputs
from schemas.profile import read_tag_group, tag_group
from tests.algorithms.factories import QUARTER, baseline

D = Decimal
START = datetime(2026, 1, 19, 17, 0, tzinfo=UTC)
END = START + 4 * QUARTER


def _device(
    device_id: str,
    baseline_kw: list[str],
    actual_kw: list[str | None],
    *,
    acked: bool = True,
    opted_out: bool = False,
    method: str = "X_OF_Y_10_10",
) -> DeviceMeasurement:
    return DeviceMeasurement(
        device_id=device_id,
        baseline=baseline(baseline_kw, start=START, method=method),
        actual_kw=tuple(None if kw is None else D(kw) for kw in actual_kw),
        acked=acked,
        opted_out=opted_out,
    )


def _reduce(
    devices: list[DeviceMeasurement], committed: str = "30", tolerance: Decimal = DEFAULT_TOLERANCE
) -> OrderPerformance:
    return measure_order(
        devices,
        direction=FlexDirection.REDUCE,
        committed_kw=D(committed),
        window_start=START,
        window_end=END,
        interval=QUARTER,
        tolerance=tolerance,
    )


def test_reduce_nets_devices_per_interval_and_never_pays_a_negative_interval() -> None:
    # interval sums: baseline 70, actual 40, 40, 40, 90 → raw 30, 30, 30, −20 kW
    devices = [
        _device("load-a", ["50", "50", "50", "50"], ["30", "30", "30", "80"]),
        _device("load-b", ["20", "20", "20", "20"], ["10", "10", "10", "10"], acked=False, opted_out=True),
    ]

    result = measure_order(
        devices,
        direction=FlexDirection.REDUCE,
        committed_kw=D(30),
        window_start=START,
        window_end=END,
        interval=QUARTER,
    )

    assert [row.delivered_kw for row in result.per_interval] == [D(30), D(30), D(30), D(-20)]
    assert [row.paid_kw for row in result.per_interval] == [D(30), D(30), D(30), D(0)]
    assert [row.delivered_kwh for row in result.per_interval] == [D("7.5"), D("7.5"), D("7.5"), D(0)]
    assert result.delivered_kwh == D("22.5")  # paid
    assert result.raw_delivered_kwh == D("17.5")  # 22.5 − 5, reported honestly
    assert result.baseline_kw == D(70)
    assert result.actual_kw == D("52.5")
    assert result.delivered_kw == D("17.5")
    assert result.committed_kwh == D(30)
    assert result.target_kwh == D("28.5")
    assert result.state is OrderState.PARTIAL
    assert (result.devices, result.devices_acked, result.devices_opted_out) == (2, 1, 1)
    assert result.intervals == 4
    assert result.interval_start == START and result.interval_end == END


def test_increase_counts_actual_above_baseline() -> None:
    # an EV charger asked to soak up load: baseline 10 kW, actual 40, 40, 25, 5
    devices = [_device("ev-1", ["10", "10", "10", "10"], ["40", "40", "25", "5"])]

    result = measure_order(
        devices,
        direction=FlexDirection.INCREASE,
        committed_kw=D(20),
        window_start=START,
        window_end=END,
        interval=QUARTER,
    )

    assert [row.delivered_kw for row in result.per_interval] == [D(30), D(30), D(15), D(-5)]
    assert [row.paid_kw for row in result.per_interval] == [D(20), D(20), D(15), D(0)]
    assert result.delivered_kwh == D("13.75")  # (20 + 20 + 15) × 0.25: paid up to the 20 kW committed
    assert result.raw_delivered_kwh == D("17.5")
    assert result.over_delivered_kwh == D(5)  # (10 + 10) × 0.25, measured but not paid
    assert result.target_kwh == D(19)  # 20 kW × 1 h × 0.95
    assert result.state is OrderState.PARTIAL


@pytest.mark.parametrize(
    ("actual", "state"),
    [
        ("62", OrderState.COMPLETED),  # 38 kW × 1 h = 38 kWh = 40 × 0.95 exactly
        ("62.004", OrderState.PARTIAL),  # 37.996 kWh
        ("50", OrderState.COMPLETED),  # over-delivery
    ],
)
def test_completed_at_ninety_five_percent_of_the_committed_energy(actual: str, state: OrderState) -> None:
    result = _reduce([_device("load-a", ["100"] * 4, [actual] * 4)], committed="40")

    assert result.state is state


def test_over_delivery_is_paid_up_to_the_committed_kw_of_each_interval() -> None:
    # 60 kW committed, the dispatcher's 10 % headroom delivered: 66 kW throughout
    result = _reduce([_device("load-a", ["100"] * 4, ["34"] * 4)], committed="60")

    assert [row.delivered_kw for row in result.per_interval] == [D(66)] * 4
    assert [row.paid_kw for row in result.per_interval] == [D(60)] * 4
    assert [row.over_delivered_kwh for row in result.per_interval] == [D("1.5")] * 4
    assert result.delivered_kwh == D(60)
    assert (result.raw_delivered_kwh, result.over_delivered_kwh) == (D(66), D(6))
    assert result.delivered_kw == D(66)  # the real delivery is still reported
    assert result.state is OrderState.COMPLETED


def test_an_over_delivered_interval_does_not_make_up_for_a_short_one() -> None:
    # 30 kW committed; raw 40, 40, 20, 20 kW = 30 kWh, at the 28.5 kWh target if it were netted
    result = _reduce([_device("load-a", ["50"] * 4, ["10", "10", "30", "30"])])

    assert [row.paid_kw for row in result.per_interval] == [D(30), D(30), D(20), D(20)]
    assert result.raw_delivered_kwh == D(30)
    assert result.over_delivered_kwh == D(5)
    assert result.delivered_kwh == D(25)
    assert result.state is OrderState.PARTIAL


def test_the_max_paid_ratio_allows_paying_some_over_delivery() -> None:
    result = measure_order(
        [_device("load-a", ["100"] * 4, ["34", "34", "37", "45"])],  # 66, 66, 63, 55 kW
        direction=FlexDirection.REDUCE,
        committed_kw=D(60),
        window_start=START,
        window_end=END,
        interval=QUARTER,
        max_paid_ratio=D("1.05"),
    )

    assert [row.paid_kw for row in result.per_interval] == [D(63), D(63), D(63), D(55)]
    assert result.delivered_kwh == D(61)  # 244 × 0.25
    assert result.over_delivered_kwh == D("1.5")
    assert result.max_paid_ratio == D("1.05")


def test_the_max_paid_ratio_is_at_least_one() -> None:
    with pytest.raises(InconsistentInputs, match="max paid ratio"):
        measure_order(
            [],
            direction=FlexDirection.REDUCE,
            committed_kw=D(30),
            window_start=START,
            window_end=END,
            interval=QUARTER,
            max_paid_ratio=D("0.9"),
        )


def test_tolerance_is_a_parameter() -> None:
    result = _reduce([_device("load-a", ["100"] * 4, ["62"] * 4)], committed="40", tolerance=D(1))

    assert result.target_kwh == D(40)
    assert result.state is OrderState.PARTIAL


def test_an_interval_without_telemetry_credits_that_device_nothing() -> None:
    devices = [
        _device("load-a", ["50"] * 4, ["30"] * 4),
        _device("load-b", ["20"] * 4, ["10", None, "10", "10"]),
    ]

    result = measure_order(
        devices,
        direction=FlexDirection.REDUCE,
        committed_kw=D(30),
        window_start=START,
        window_end=END,
        interval=QUARTER,
    )

    second = result.per_interval[1]
    assert (second.baseline_kw, second.actual_kw, second.delivered_kw, second.devices_measured) == (
        D(50),
        D(30),
        D(20),
        1,
    )
    assert result.unmeasured == 1
    assert result.delivered_kwh == D("27.5")  # (30 + 20 + 30 + 30) × 0.25


def test_one_minute_intervals_round_each_interval_to_the_watt_hour() -> None:
    minute = timedelta(minutes=1)
    device = DeviceMeasurement(
        device_id="battery-1",
        baseline=baseline(["0"] * 3, start=START, interval=minute),
        actual_kw=(D(-10), D(-10), D(-10)),  # discharging 10 kW
    )

    result = measure_order(
        [device],
        direction=FlexDirection.REDUCE,
        committed_kw=D(10),
        window_start=START,
        window_end=START + 3 * minute,
        interval=minute,
    )

    assert [row.delivered_kwh for row in result.per_interval] == [D("0.167")] * 3  # 10 / 60 = 0.1666…
    assert result.delivered_kwh == D("0.501")
    assert result.target_kwh == D("0.475")  # 10 × 0.05 h × 0.95
    assert result.state is OrderState.COMPLETED


def test_no_devices_delivers_nothing() -> None:
    result = measure_order(
        [],
        direction=FlexDirection.REDUCE,
        committed_kw=D(10),
        window_start=START,
        window_end=END,
        interval=QUARTER,
    )

    assert result.delivered_kwh == D(0)
    assert result.state is OrderState.PARTIAL
    assert result.baseline_method is None


def test_baselines_must_be_on_the_order_intervals() -> None:
    late = DeviceMeasurement(
        device_id="x", baseline=baseline(["1"] * 4, start=START + QUARTER), actual_kw=(D(1),) * 4
    )

    with pytest.raises(InconsistentInputs):
        _reduce([late])


def test_one_reading_per_baseline_interval() -> None:
    with pytest.raises(ValidationError, match="3 readings for 4 baseline intervals"):
        _device("x", ["1"] * 4, ["1"] * 3)


def test_performance_tag_values_are_valid_profile_tags() -> None:
    devices = [
        _device("load-a", ["50", "50", "50", "50"], ["30", "30", "30", "80"]),
        _device("load-b", ["20", "20", "20", "20"], ["10", "10", "10", "10"], opted_out=True),
    ]
    result = measure_order(
        devices,
        direction=FlexDirection.REDUCE,
        committed_kw=D(30),
        window_start=START,
        window_end=END,
        interval=QUARTER,
    )

    group = tag_group("performance", result.tag_values())
    values = read_tag_group([group], "performance")

    assert values == {
        "baseline_kw": "70",
        "actual_kw": "52.5",
        "delivered_kw": "17.5",
        "delivered_kwh": "17.5",
        "devices_acked": "2",
        "devices_opted_out": "1",
        "intervals": "4",
        "interval_start": "2026-01-19T17:00:00.000Z",
        "interval_end": "2026-01-19T18:00:00.000Z",
        "baseline_method": "X_OF_Y_10_10",
    }


def test_mixed_baseline_methods_are_listed_but_not_sent_as_one_method() -> None:
    devices = [
        _device("load-a", ["50"] * 4, ["30"] * 4),
        _device("battery-1", ["0"] * 4, ["-5"] * 4, method="METER_BEFORE_AFTER"),
    ]

    result = _reduce(devices)

    assert result.baseline_methods == ("METER_BEFORE_AFTER", "X_OF_Y_10_10")
    assert result.baseline_method is None
    assert "baseline_method" not in result.tag_values()
