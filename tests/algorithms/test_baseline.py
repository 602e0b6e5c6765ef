"""Baselines worked by hand: X-of-Y with its capped same-day adjustment, day selection, meter before/after.

The main example (docs/measurement.md): an event on Monday 2026-01-19, 17:00–18:00 UTC in 15-minute
intervals. The ten weekdays before it drew 58, 56, … 40 kW (most recent first) flat, plus 0/2/4/2 kW in
the four event intervals; weekends drew 500 kW and older weekdays 30 kW. 10-of-10 averages to
49 kW + shape = 49, 51, 53, 51 kW.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bpp.performance.adjustment import AdjustmentKind
from bpp.performance.baseline import (
    BaselineKind,
    MeterRule,
    XOfYRule,
    choose_baseline,
    meter_before_after_baseline,
    x_of_y_baseline,
)
from bpp.performance.calendar import BaselineCalendar
from bpp.performance.errors import BaselineUnavailable, InvalidWindow
from bpp.performance.intervals import average_by_interval
from tests.algorithms.factories import QUARTER, at, history_of, with_event_day_actual

D = Decimal
EVENT_DAY = date(2026, 1, 19)  # a Monday
START, END = at(EVENT_DAY), at(EVENT_DAY) + 4 * QUARTER
WEEKDAYS = [date(2026, 1, d) for d in (16, 15, 14, 13, 12, 9, 8, 7, 6, 5)]
WEEKDAY_KW = {day: D(58 - 2 * n) for n, day in enumerate(WEEKDAYS)}  # 58 … 40
WEEKENDS = [date(2026, 1, d) for d in (17, 18, 10, 11, 3, 4)]
OLDER = [date(2026, 1, 2), date(2026, 1, 1)]
BUSINESS = BaselineCalendar()
UNADJUSTED = XOfYRule(adjustment=AdjustmentKind.NONE)


def _history() -> dict[datetime, Decimal]:
    days = [*WEEKDAY_KW.items(), *((day, D(500)) for day in WEEKENDS), *((day, D(30)) for day in OLDER)]
    return history_of(days)


def _with_actual(kw: str) -> dict[datetime, Decimal]:
    return with_event_day_actual(_history(), EVENT_DAY, D(kw))


def _kw(*values: str) -> tuple[Decimal, ...]:
    return tuple(D(value) for value in values)


# --- 10-of-10 with a multiplicative same-day adjustment ---------------------------------------------


def test_ten_of_ten_averages_ten_weekdays_and_scales_by_the_same_day_ratio() -> None:
    # adjustment window 15:00–16:00: actual 53.9 kW against a baseline of 49 kW → ratio 1.1
    result = x_of_y_baseline(_with_actual("53.9"), START, END, calendar=BUSINESS)

    assert result.method == "X_OF_Y_10_10"
    assert result.kind is BaselineKind.X_OF_Y
    assert result.unadjusted_kw == _kw("49", "51", "53", "51")
    assert result.per_interval_kw == _kw("53.9", "56.1", "58.3", "56.1")
    assert result.days_used == tuple(sorted(WEEKDAYS))
    assert result.adjustment is not None
    assert result.adjustment.value == D("1.1")
    assert not result.adjustment.capped
    assert result.notes[0] == "X_OF_Y_10_10 with +10.0 % same-day adjustment (cap ±20.0 %)"
    assert result.interval_starts == tuple(START + k * QUARTER for k in range(4))


def test_ratio_above_the_cap_is_held_at_plus_twenty_percent() -> None:
    result = x_of_y_baseline(_with_actual("70"), START, END, calendar=BUSINESS)  # 70 / 49 = 1.43

    assert result.adjustment is not None
    assert result.adjustment.capped
    assert result.adjustment.value == D("1.2")
    assert result.per_interval_kw == _kw("58.8", "61.2", "63.6", "61.2")
    assert result.notes[0] == "X_OF_Y_10_10 with +20.0 % same-day adjustment (capped at ±20.0 %)"


def test_ratio_below_the_cap_is_held_at_minus_twenty_percent() -> None:
    result = x_of_y_baseline(_with_actual("24.5"), START, END, calendar=BUSINESS)  # 24.5 / 49 = 0.5

    assert result.adjustment is not None
    assert result.adjustment.capped
    assert result.adjustment.value == D("0.8")
    assert result.per_interval_kw == _kw("39.2", "40.8", "42.4", "40.8")
    assert "-20.0 %" in result.notes[0]


def test_ratio_exactly_at_the_cap_is_not_reported_as_capped() -> None:
    result = x_of_y_baseline(_with_actual("58.8"), START, END, calendar=BUSINESS)  # 58.8 / 49 = 1.2

    assert result.adjustment is not None
    assert not result.adjustment.capped
    assert result.per_interval_kw == _kw("58.8", "61.2", "63.6", "61.2")


def test_a_different_cap_changes_the_clamp() -> None:
    rule = XOfYRule(adjustment_cap=D("0.05"))
    result = x_of_y_baseline(_with_actual("53.9"), START, END, calendar=BUSINESS, rule=rule)

    assert result.per_interval_kw == _kw("51.45", "53.55", "55.65", "53.55")  # × 1.05


def test_without_event_day_telemetry_no_adjustment_is_applied_and_the_note_says_so() -> None:
    result = x_of_y_baseline(_history(), START, END, calendar=BUSINESS)

    assert result.adjustment is not None
    assert not result.adjustment.applied
    assert result.per_interval_kw == result.unadjusted_kw == _kw("49", "51", "53", "51")
    assert result.notes[0].startswith("X_OF_Y_10_10 without same-day adjustment (no event-day telemetry")


def test_adjustment_window_follows_lag_and_length() -> None:
    # 2 intervals ending 30 minutes before the start: 16:00–16:30
    rule = XOfYRule(adjustment_intervals=2, adjustment_lag=timedelta(minutes=30))
    history = with_event_day_actual(_history(), EVENT_DAY, D("53.9"), start=time(16, 0), count=2)

    assert x_of_y_baseline(history, START, END, calendar=BUSINESS, rule=rule).per_interval_kw == _kw(
        "53.9", "56.1", "58.3", "56.1"
    )
    # the default window (15:00–16:00) has no event-day data in that history
    assert x_of_y_baseline(history, START, END, calendar=BUSINESS).per_interval_kw == _kw(
        "49", "51", "53", "51"
    )


# --- additive adjustment ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actual", "expected", "capped"),
    [
        ("53.9", ("53.9", "55.9", "57.9", "55.9"), False),  # +4.9 kW, within ±9.8 kW (20 % of 49)
        ("70", ("58.8", "60.8", "62.8", "60.8"), True),  # +21 kW held at +9.8 kW
        ("30", ("39.2", "41.2", "43.2", "41.2"), True),  # −19 kW held at −9.8 kW
    ],
)
def test_additive_adjustment_adds_the_capped_offset(
    actual: str, expected: tuple[str, ...], capped: bool
) -> None:
    rule = XOfYRule(adjustment=AdjustmentKind.ADDITIVE)
    result = x_of_y_baseline(_with_actual(actual), START, END, calendar=BUSINESS, rule=rule)

    assert result.per_interval_kw == _kw(*expected)
    assert result.adjustment is not None
    assert result.adjustment.capped is capped


# --- which days count ---------------------------------------------------------------------------------


def test_high_five_of_ten_averages_the_five_highest_days() -> None:
    rule = XOfYRule(x=5, y=10)
    result = x_of_y_baseline(_with_actual("59.4"), START, END, calendar=BUSINESS, rule=rule)

    assert result.method == "X_OF_Y_5_10"
    assert result.days_used == tuple(sorted(WEEKDAYS[:5]))  # 58, 56, 54, 52, 50 kW
    assert result.unadjusted_kw == _kw("54", "56", "58", "56")
    assert result.per_interval_kw == _kw("59.4", "61.6", "63.8", "61.6")  # 59.4 / 54 = 1.1


def test_weekends_are_skipped_with_a_calendar_and_counted_without_one() -> None:
    with_calendar = x_of_y_baseline(_history(), START, END, calendar=BUSINESS, rule=UNADJUSTED)
    without = x_of_y_baseline(_history(), START, END, rule=UNADJUSTED)

    assert with_calendar.unadjusted_kw == _kw("49", "51", "53", "51")
    assert "skipped 4 days of the other day type" in with_calendar.notes[1]
    # Jan 18, 17, 11, 10 at 500 kW and the six most recent weekdays: (2000 + 318) / 10
    assert without.unadjusted_kw == _kw("231.8", "233.8", "235.8", "233.8")
    assert date(2026, 1, 17) in without.days_used


def test_holidays_and_prior_event_days_are_skipped() -> None:
    calendar = BaselineCalendar(holidays=frozenset({date(2026, 1, 14)}))
    result = x_of_y_baseline(
        _history(), START, END, calendar=calendar, rule=UNADJUSTED, event_days=frozenset({date(2026, 1, 13)})
    )

    # 58 + 56 + 50 + 48 + 46 + 44 + 42 + 40 + 30 + 30 = 444
    assert result.unadjusted_kw == _kw("44.4", "46.4", "48.4", "46.4")
    assert date(2026, 1, 14) not in result.days_used
    assert date(2026, 1, 13) not in result.days_used
    assert result.days_used[:2] == (date(2026, 1, 1), date(2026, 1, 2))
    assert "1 prior event days" in result.notes[1]


def test_a_day_missing_an_event_interval_is_skipped() -> None:
    history = _history()
    del history[at(date(2026, 1, 12)) + QUARTER]

    result = x_of_y_baseline(history, START, END, calendar=BUSINESS, rule=UNADJUSTED)

    # 58 + 56 + 54 + 52 + 48 + 46 + 44 + 42 + 40 + 30 = 470
    assert result.unadjusted_kw == _kw("47", "49", "51", "49")
    assert "1 days with missing data" in result.notes[1]


def test_a_weekend_event_uses_weekend_days() -> None:
    first = date(2025, 12, 1)
    days = [first + timedelta(days=n) for n in range(47)]  # to Jan 16
    history = history_of((day, D(20) if day.weekday() >= 5 else D(60)) for day in days)
    saturday = date(2026, 1, 17)

    result = x_of_y_baseline(
        history, at(saturday), at(saturday) + 4 * QUARTER, calendar=BUSINESS, rule=UNADJUSTED
    )

    assert result.unadjusted_kw == _kw("20", "22", "24", "22")
    assert all(day.weekday() >= 5 for day in result.days_used)
    assert len(result.days_used) == 10


def test_fewer_than_y_days_averages_what_there_is() -> None:
    loads = dict(zip(WEEKDAYS[:7], (D(70), D(60), D(50), D(40), D(30), D(20), D(10)), strict=True))
    history = history_of(loads.items())

    ten = x_of_y_baseline(history, START, END, calendar=BUSINESS, rule=UNADJUSTED)
    five = x_of_y_baseline(
        history, START, END, calendar=BUSINESS, rule=XOfYRule(x=5, adjustment=AdjustmentKind.NONE)
    )

    assert ten.unadjusted_kw == _kw("40", "42", "44", "42")
    assert "only 7 eligible days in the last 45 (wanted 10)" in ten.notes
    assert five.unadjusted_kw == _kw("50", "52", "54", "52")  # 70, 60, 50, 40, 30


def test_below_min_days_x_of_y_is_unavailable() -> None:
    history = history_of(list(WEEKDAY_KW.items())[:3])

    with pytest.raises(BaselineUnavailable) as raised:
        x_of_y_baseline(history, START, END, calendar=BUSINESS)

    assert raised.value.reason.startswith("only 3 eligible days of history (needs 5")


def test_days_are_matched_on_local_wall_clock_time_across_a_dst_change() -> None:
    zone = ZoneInfo("America/New_York")  # DST starts Sunday 2026-03-08
    history: dict[datetime, Decimal] = {}
    for n in range(1, 20):
        day = date(2026, 3, 9) - timedelta(days=n)
        local_start = datetime.combine(day, time(17, 0), tzinfo=zone)
        for k in range(-4, 8):  # 16:00–19:00 local: 100 kW from 17:00, 10 kW before
            history[(local_start + k * QUARTER).astimezone(UTC)] = D(100) if k >= 0 else D(10)
    start = datetime(2026, 3, 9, 17, 0, tzinfo=zone).astimezone(UTC)  # 21:00 UTC, 22:00 UTC the week before
    calendar = BaselineCalendar(timezone="America/New_York")

    result = x_of_y_baseline(history, start, start + 4 * QUARTER, calendar=calendar, rule=UNADJUSTED)

    assert result.unadjusted_kw == _kw("100", "100", "100", "100")


# --- meter before/after -------------------------------------------------------------------------------


def _meter_history(*values: str | None) -> dict[datetime, Decimal]:
    history: dict[datetime, Decimal] = {}
    for k, value in enumerate(values):
        if value is not None:
            history[START - (len(values) - k) * QUARTER] = D(value)
    return history


def test_meter_before_after_is_the_mean_of_the_last_intervals() -> None:
    result = meter_before_after_baseline(_meter_history("10", "12", "14", "16"), START, END)

    assert result.method == "METER_BEFORE_AFTER"
    assert result.per_interval_kw == _kw("13", "13", "13", "13")


def test_meter_before_after_with_trend_extends_the_least_squares_line() -> None:
    # t = −4 … −1, mean −2.5, slope 2 kW per interval: B_k = 13 + 2 × (k + 2.5)
    result = meter_before_after_baseline(
        _meter_history("10", "12", "14", "16"), START, END, rule=MeterRule(trend=True)
    )

    assert result.per_interval_kw == _kw("18", "20", "22", "24")


def test_meter_before_after_uses_the_readings_it_has() -> None:
    flat = meter_before_after_baseline(_meter_history(None, "12", "14", "16"), START, END)
    trend = meter_before_after_baseline(
        _meter_history(None, "12", "14", "16"), START, END, rule=MeterRule(trend=True)
    )

    assert flat.per_interval_kw == _kw("14", "14", "14", "14")
    assert trend.per_interval_kw == _kw("18", "20", "22", "24")  # 14 + 2 × (k + 2)
    assert "3 of 4 intervals had readings" in flat.notes[1]


def test_meter_before_after_without_readings_is_unavailable() -> None:
    with pytest.raises(BaselineUnavailable):
        meter_before_after_baseline({}, START, END)


# --- choosing -----------------------------------------------------------------------------------------


def test_choose_baseline_uses_x_of_y_when_the_history_supports_it() -> None:
    result = choose_baseline(_with_actual("53.9"), START, END, calendar=BUSINESS)

    assert result.kind is BaselineKind.X_OF_Y
    assert result.notes[0] == "X_OF_Y_10_10 with +10.0 % same-day adjustment (cap ±20.0 %)"


def test_choose_baseline_falls_back_to_meter_before_after_and_says_why() -> None:
    history = {**history_of(list(WEEKDAY_KW.items())[:3]), **_meter_history("10", "12", "14", "16")}

    result = choose_baseline(history, START, END, calendar=BUSINESS)

    assert result.kind is BaselineKind.METER_BEFORE_AFTER
    assert result.per_interval_kw == _kw("13", "13", "13", "13")
    assert result.notes[0].startswith("METER_BEFORE_AFTER: only 3 eligible days of history (needs 5")


def test_choose_baseline_honours_a_meter_preference() -> None:
    history = {**_history(), **_meter_history("10", "12", "14", "16")}

    result = choose_baseline(history, START, END, preferred=BaselineKind.METER_BEFORE_AFTER)

    assert result.kind is BaselineKind.METER_BEFORE_AFTER
    assert result.notes[0] == "METER_BEFORE_AFTER: the offer's terms ask for it"


def test_choose_baseline_fails_only_when_neither_method_has_data() -> None:
    with pytest.raises(BaselineUnavailable) as raised:
        choose_baseline({}, START, END)

    assert "only 0 eligible days" in raised.value.reason
    assert "no readings" in raised.value.reason


# --- interval grid ------------------------------------------------------------------------------------


def test_a_one_minute_interval_is_a_parameter() -> None:
    minute = timedelta(minutes=1)
    start = at(EVENT_DAY)
    history = {start - k * minute: D(k) for k in range(1, 4)}  # 1, 2, 3 kW in the 3 minutes before

    result = meter_before_after_baseline(
        history, start, start + 5 * minute, interval=minute, rule=MeterRule(intervals=3)
    )

    assert result.per_interval_kw == _kw("2", "2", "2", "2", "2")
    assert result.event_end == start + 5 * minute


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (START, START + timedelta(minutes=20)),  # not a whole number of intervals
        (START, START),  # empty
        (START.replace(tzinfo=None), END.replace(tzinfo=None)),  # naive
    ],
)
def test_a_window_off_the_interval_grid_is_rejected(start: datetime, end: datetime) -> None:
    with pytest.raises(InvalidWindow):
        x_of_y_baseline(_history(), start, end)


def test_rules_reject_impossible_parameters() -> None:
    with pytest.raises(ValueError, match="must not exceed y"):
        XOfYRule(x=11, y=10)
    with pytest.raises(ValueError, match="min_days"):
        XOfYRule(x=4, y=4)


def test_average_by_interval_buckets_telemetry_samples() -> None:
    minute = timedelta(minutes=1)
    samples = [
        (START, D(10)),
        (START + 5 * minute, D(20)),
        (START + 10 * minute, D(30)),
        (START + 15 * minute, D(5)),
        (START - minute, D(999)),  # before the window
        (END, D(999)),  # the end is exclusive
    ]

    assert average_by_interval(samples, START, END, QUARTER) == {START: D(20), START + QUARTER: D(5)}
