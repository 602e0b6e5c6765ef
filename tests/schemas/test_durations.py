"""ISO 8601 durations and RFC 3339 timestamps, as the Beckn context's `ttl` and `timestamp` need them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.core_v1 import format_duration, format_timestamp, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT30S", timedelta(seconds=30)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("PT10M", timedelta(minutes=10)),
        ("P1D", timedelta(days=1)),
        ("P1DT2H", timedelta(days=1, hours=2)),
        ("P2W", timedelta(weeks=2)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("PT1,25S", timedelta(seconds=1.25)),
        ("PT0S", timedelta(0)),
        ("PT36H", timedelta(hours=36)),
    ],
)
def test_parse_duration_reads_the_iso_8601_forms_peers_send(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_months_and_years_are_read_as_30_and_365_days() -> None:
    # Real DEG program payloads send "P1M"; timedelta has no calendar, so the documented approximation holds.
    assert parse_duration("P1M") == timedelta(days=30)
    assert parse_duration("P1Y2M3D") == timedelta(days=365 + 60 + 3)


@pytest.mark.parametrize(
    "text", ["", "P", "PT", "P1DT", "30S", "PT5", "1H", "PT-5S", "P1.5D", "PTS", "pt30s"]
)
def test_parse_duration_rejects_what_is_not_an_iso_8601_duration(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=30), "PT30S"),
        (timedelta(hours=1, minutes=30), "PT1H30M"),
        (timedelta(days=1), "P1D"),
        (timedelta(days=2, seconds=5), "P2DT5S"),
        (timedelta(0), "PT0S"),
        (timedelta(milliseconds=250), "PT0.25S"),
    ],
)
def test_format_duration_writes_the_shortest_form(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


def test_durations_beyond_timedelta_are_a_value_error_not_a_crash() -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration("P40000000M")


def test_format_duration_refuses_negative_durations() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_duration(timedelta(seconds=-1))


@given(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10_000)).map(
        lambda d: d - d % timedelta(seconds=1)
    )
)
def test_duration_round_trips_at_second_resolution(delta: timedelta) -> None:
    assert parse_duration(format_duration(delta)) == delta


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)))
def test_duration_round_trips_at_microsecond_resolution(delta: timedelta) -> None:
    assert parse_duration(format_duration(delta)) == delta


def test_format_timestamp_is_utc_with_milliseconds_and_z() -> None:
    moment = datetime(2026, 11, 21, 11, 6, 11, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert format_timestamp(moment) == "2026-11-21T05:36:11.123Z"
    assert format_timestamp(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000Z"


def test_format_timestamp_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_timestamp(datetime(2026, 1, 1))
