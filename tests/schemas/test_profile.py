"""The DEG flexibility profile: each schema accepts good tag groups and rejects bad ones where they fail."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

from schemas.core_v1 import Descriptor, Intent, Tag, TagGroup, parse_duration
from schemas.profile import (
    PROFILE_TAG_GROUPS,
    ProfileError,
    profile_errors,
    read_tag_group,
    schema_of,
    tag_group,
    validate_tag_group,
)

GOOD: dict[str, dict[str, str]] = {
    "flex_need": {
        "direction": "REDUCE",
        "required_kw": "250",
        "min_notice": "PT30M",
        "grid_node": "feeder:F-3",
    },
    "flex_offer": {
        "direction": "INCREASE",
        "grid_node": "substation:SS.North_1",
        "min_kw": "5",
        "max_kw": "120.5",
        "response_time": "PT5M",
        "max_duration": "PT4H",
        "baseline_method": "X_OF_Y_10_10",
        "reliability": "0.97",
        "device_types": "SOLAR_INVERTER,BATTERY,FLEXIBLE_LOAD,EV_CHARGER",
        "notice": "PT15M",
        "max_events_per_day": "2",
    },
    "commitment": {
        "committed_kw": "80",
        "devices": "42",
        "grid_node": "transformer:TX-17",
        "window_start": "2026-07-14T17:00:00.000Z",
        "window_end": "2026-07-14T19:00:00+00:00",
    },
    "performance": {
        "baseline_kw": "310.5",
        "actual_kw": "320",
        "delivered_kw": "-9.5",
        "delivered_kwh": "-19",
        "devices_acked": "41",
        "devices_opted_out": "1",
        "intervals": "8",
        "baseline_method": "X_OF_Y_3_5_AVERAGE",
        "interval_start": "2026-07-14T17:00:00Z",
        "interval_end": "2026-07-14T19:00:00Z",
    },
    "settlement": {
        "delivered_kwh": "120",
        "rate_per_kwh": "0.25",
        "gross_amount": "30",
        "shortfall_kwh": "40",
        "penalty_amount": "32.50",
        "net_amount": "-2.50",
        "currency": "USD",
    },
}

REQUIRED: dict[str, set[str]] = {
    "flex_need": {"direction", "required_kw"},
    "flex_offer": set(GOOD["flex_offer"]) - {"notice", "max_events_per_day"},
    "commitment": {"committed_kw", "devices"},
    "performance": set(GOOD["performance"]) - {"baseline_method", "interval_start", "interval_end"},
    "settlement": set(GOOD["settlement"]),
}


def group(code: str, values: dict[str, str]) -> dict[str, Any]:
    return {
        "descriptor": {"code": code},
        "list": [{"descriptor": {"code": k}, "value": v} for k, v in values.items()],
    }


def rejection(code: str, values: dict[str, str]) -> ProfileError:
    with pytest.raises(ProfileError) as caught:
        validate_tag_group(group(code, values))
    return caught.value


def test_profile_defines_the_five_groups_of_the_architecture() -> None:
    assert PROFILE_TAG_GROUPS == ("flex_need", "flex_offer", "commitment", "performance", "settlement")


@pytest.mark.parametrize("code", PROFILE_TAG_GROUPS)
def test_schema_files_ship_as_package_data_and_are_valid_2020_12(code: str) -> None:
    text = resources.files("schemas.profile").joinpath(f"{code}.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["descriptor"]["properties"]["code"]["const"] == code
    assert schema_of(code) == schema


@pytest.mark.parametrize("code", PROFILE_TAG_GROUPS)
def test_good_groups_are_accepted(code: str) -> None:
    validate_tag_group(group(code, GOOD[code]))
    validate_tag_group(group(code, {name: GOOD[code][name] for name in REQUIRED[code]}))


@pytest.mark.parametrize(
    ("code", "missing"), [(code, tag) for code in PROFILE_TAG_GROUPS for tag in REQUIRED[code]]
)
def test_each_required_tag_is_required(code: str, missing: str) -> None:
    values = {name: value for name, value in GOOD[code].items() if name != missing}
    error = rejection(code, values)
    assert error.paths == "list"
    assert f"missing required tag {missing!r}" in error.message


BAD_VALUES = [
    ("flex_need", "direction", "SIDEWAYS"),
    ("flex_need", "direction", "reduce"),
    ("flex_need", "required_kw", "-5"),
    ("flex_need", "required_kw", "250kW"),
    ("flex_need", "required_kw", "1e3"),
    ("flex_need", "min_notice", "30 minutes"),
    ("flex_need", "grid_node", "TX-17"),
    ("flex_need", "grid_node", "meter:M-1"),
    ("flex_offer", "reliability", "1.5"),
    ("flex_offer", "reliability", "-0.1"),
    ("flex_offer", "device_types", "BATTERY,TOASTER"),
    ("flex_offer", "device_types", "BATTERY, EV_CHARGER"),
    ("flex_offer", "baseline_method", "average"),
    ("flex_offer", "response_time", "5min"),
    ("flex_offer", "max_duration", "PT"),
    ("flex_offer", "max_events_per_day", "2.5"),
    ("commitment", "devices", "-1"),
    ("commitment", "window_start", "2026-07-14 17:00"),
    ("commitment", "window_end", "2026-07-14T25:00:00Z"),
    ("performance", "intervals", "eight"),
    ("performance", "actual_kw", "3 kW"),
    ("settlement", "currency", "usd"),
    ("settlement", "penalty_amount", "-1"),
    ("settlement", "rate_per_kwh", "0.25 USD"),
]


@pytest.mark.parametrize(("code", "tag", "value"), BAD_VALUES)
def test_invalid_values_are_rejected_at_their_tag(code: str, tag: str, value: str) -> None:
    values = {**GOOD[code], tag: value}
    error = rejection(code, values)
    index = list(values).index(tag)
    assert error.paths == f"list[{index}].value"
    assert repr(value) in error.message and error.message.startswith(f"{code}: ")


def test_unknown_tags_are_rejected_at_their_code() -> None:
    error = rejection("flex_need", {**GOOD["flex_need"], "colour": "green"})
    assert error.paths == "list[4].descriptor.code"
    assert "'colour' is not a tag code of flex_need" in error.message


def test_a_tag_given_twice_is_rejected() -> None:
    values = group("flex_need", GOOD["flex_need"])
    values["list"].append({"descriptor": {"code": "direction"}, "value": "INCREASE"})
    with pytest.raises(ProfileError, match="'direction' appears more than once") as caught:
        validate_tag_group(values)
    assert caught.value.paths == "list"


def test_a_tag_without_a_value_is_rejected() -> None:
    values = group("commitment", GOOD["commitment"])
    del values["list"][1]["value"]
    with pytest.raises(ProfileError, match="'value' is a required property") as caught:
        validate_tag_group(values)
    assert caught.value.paths == "list[1]"


@pytest.mark.parametrize(
    ("code", "changes", "path", "message"),
    [
        ("flex_offer", {"min_kw": "50", "max_kw": "40"}, "list[3].value", "min_kw exceeds max_kw"),
        (
            "commitment",
            {"window_end": "2026-07-14T17:00:00Z"},
            "list[4].value",
            "window_end is not after window_start",
        ),
        (
            "performance",
            {"interval_end": "2026-07-14T16:00:00+00:00"},
            "list[9].value",
            "interval_end is not after interval_start",
        ),
    ],
)
def test_ranges_must_be_in_order(code: str, changes: dict[str, str], path: str, message: str) -> None:
    error = rejection(code, {**GOOD[code], **changes})
    assert (error.paths, error.message) == (path, f"{code}: {message}")


def test_a_group_that_is_not_ours_is_refused_by_validate() -> None:
    with pytest.raises(ProfileError, match="not a profile tag group") as caught:
        validate_tag_group({"descriptor": {"code": "Flexibility_Event_Details"}, "list": []})
    assert caught.value.paths == "descriptor.code"


def test_tag_group_writes_numbers_times_and_durations_canonically() -> None:
    built = tag_group(
        "commitment",
        {
            "committed_kw": Decimal("80.000"),
            "devices": 42,
            "grid_node": None,
            "window_start": datetime(2026, 7, 14, 17, tzinfo=UTC),
            "window_end": "2026-07-14T19:00:00Z",
        },
    )
    assert built.dump() == group(
        "commitment",
        {
            "committed_kw": "80",
            "devices": "42",
            "window_start": "2026-07-14T17:00:00.000Z",
            "window_end": "2026-07-14T19:00:00Z",
        },
    )
    need = tag_group(
        "flex_need", {"direction": "REDUCE", "required_kw": 12.5, "min_notice": timedelta(minutes=90)}
    )
    assert read_tag_group([need], "flex_need") == {
        "direction": "REDUCE",
        "required_kw": "12.5",
        "min_notice": "PT1H30M",
    }


def test_tag_group_refuses_invalid_values() -> None:
    with pytest.raises(ProfileError) as caught:
        tag_group("flex_need", {"direction": "REDUCE", "required_kw": -3})
    assert caught.value.paths == "list[1].value"


def test_read_tag_group_finds_the_group_among_others_in_models_and_dicts() -> None:
    other = TagGroup(descriptor=Descriptor(code="Flexibility_Event_Details"), list=[Tag(value="x")])
    need = group("flex_need", GOOD["flex_need"])
    assert read_tag_group([other, need], "flex_need") == GOOD["flex_need"]
    assert read_tag_group([other, TagGroup.model_validate(need)], "flex_need") == GOOD["flex_need"]
    assert read_tag_group([other], "flex_need") is None
    assert read_tag_group(None, "flex_need") is None


def test_read_tag_group_is_liberal_with_peer_dicts() -> None:
    peer = {
        "descriptor": {"code": "performance"},
        "list": [
            {"descriptor": {"code": "baseline_kw"}, "value": 400},
            {"descriptor": {"code": "actual_kw"}, "value": 288.0},
            {"descriptor": {"name": "no code"}, "value": "x"},
            {"descriptor": {"code": "intervals"}},
            "not a tag",
        ],
    }
    assert read_tag_group([peer], "performance") == {"baseline_kw": "400", "actual_kw": "288"}


def test_profile_errors_finds_bad_groups_anywhere_in_a_message() -> None:
    message = {
        "order": {
            "items": [
                {"id": "a", "tags": [group("flex_offer", GOOD["flex_offer"])]},
                {
                    "id": "b",
                    "tags": [{"descriptor": {"code": "Reward"}}, group("flex_offer", {"direction": "UP"})],
                },
            ],
            "fulfillments": [{"tags": [group("performance", {**GOOD["performance"], "intervals": "x"})]}],
        }
    }
    errors = profile_errors(message)
    assert [error.paths.split(", ")[0] for error in errors] == [
        "message.order.items[1].tags[1].list[0].value",
        "message.order.fulfillments[0].tags[0].list[6].value",
    ]
    assert "message.order.items[1].tags[1].list" in errors[0].paths


def test_profile_errors_reads_models_and_passes_valid_messages() -> None:
    intent = Intent(tags=[tag_group("flex_need", {"direction": "REDUCE", "required_kw": 5})])
    assert profile_errors(intent, root="message.intent") == []
    assert (
        profile_errors({"intent": {"tags": [group("flex_need", {})]}})[0].paths
        == "message.intent.tags[0].list"
    )


def test_the_duration_pattern_and_parse_duration_agree() -> None:
    pattern = re.compile(schema_of("flex_need")["$defs"]["duration"]["pattern"])
    for text in ("PT30S", "P1D", "P1M", "PT1H30M", "PT0.5S", "P1Y2M3W4DT5H6M7.8S"):
        assert pattern.search(text)
        parse_duration(text)
    for text in ("P", "PT", "P1DT", "30S", "PT5"):
        assert not pattern.search(text)
        with pytest.raises(ValueError):
            parse_duration(text)


@given(st.from_regex(schema_of("flex_need")["$defs"]["duration"]["pattern"]))
def test_every_duration_the_schema_accepts_can_be_read(text: str) -> None:
    try:
        parse_duration(text)
    except ValueError as error:
        assert "too long" in str(error)


non_negative = st.one_of(
    st.integers(min_value=0, max_value=10**9),
    st.decimals(min_value=0, max_value=10**9, places=4),
    st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),
)
signed = st.one_of(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.decimals(min_value=-(10**9), max_value=10**9, places=4),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
)
count = st.integers(min_value=0, max_value=10**6)
fraction = st.one_of(st.decimals(min_value=0, max_value=1, places=5), st.floats(min_value=0, max_value=1))
duration = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60))
moment = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))
grid_node = st.from_regex(r"\A(transformer|feeder|substation):[A-Za-z0-9._-]{1,12}\Z")
direction = st.sampled_from(["REDUCE", "INCREASE"])
baseline = st.from_regex(r"\A(X_OF_Y_[0-9]{1,2}_[0-9]{1,2}|METER_BEFORE_AFTER)(_[A-Z]{1,8})?\Z")
devices = st.lists(
    st.sampled_from(["SOLAR_INVERTER", "BATTERY", "FLEXIBLE_LOAD", "EV_CHARGER"]), min_size=1, unique=True
).map(",".join)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def ordered_pair(
    draw: st.DrawFn, lower: st.SearchStrategy[Any], gap: st.SearchStrategy[Any]
) -> tuple[Any, Any]:
    low = draw(lower)
    return low, low + draw(gap)


@st.composite
def profile_values(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    code = draw(st.sampled_from(PROFILE_TAG_GROUPS))
    if code == "flex_need":
        values = {
            "direction": draw(direction),
            "required_kw": draw(non_negative),
            "min_notice": draw(optional(duration)),
            "grid_node": draw(optional(grid_node)),
        }
    elif code == "flex_offer":
        low, high = draw(ordered_pair(st.integers(0, 10**6), st.integers(0, 10**6)))
        values = {
            "direction": draw(direction),
            "grid_node": draw(grid_node),
            "min_kw": Decimal(low) / 10,
            "max_kw": Decimal(high) / 10,
            "response_time": draw(duration),
            "max_duration": draw(duration),
            "baseline_method": draw(baseline),
            "reliability": draw(fraction),
            "device_types": draw(devices),
            "notice": draw(optional(duration)),
            "max_events_per_day": draw(optional(count)),
        }
    elif code == "commitment":
        start, end = draw(ordered_pair(moment, st.timedeltas(timedelta(seconds=1), timedelta(days=1))))
        values = {
            "committed_kw": draw(non_negative),
            "devices": draw(count),
            "grid_node": draw(optional(grid_node)),
            "window_start": start,
            "window_end": end,
        }
    elif code == "performance":
        values = {
            "baseline_kw": draw(non_negative),
            "actual_kw": draw(non_negative),
            "delivered_kw": draw(signed),
            "delivered_kwh": draw(signed),
            "devices_acked": draw(count),
            "devices_opted_out": draw(count),
            "intervals": draw(count),
            "baseline_method": draw(optional(baseline)),
        }
    else:
        values = {
            "delivered_kwh": draw(non_negative),
            "rate_per_kwh": draw(non_negative),
            "gross_amount": draw(non_negative),
            "shortfall_kwh": draw(non_negative),
            "penalty_amount": draw(non_negative),
            "net_amount": draw(signed),
            "currency": draw(st.from_regex(r"\A[A-Z]{3}\Z")),
        }
    return code, values


def read_back(text: str, original: Any) -> Any:
    if isinstance(original, datetime):
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    if isinstance(original, timedelta):
        return parse_duration(text)
    if isinstance(original, str):
        return text
    return Decimal(text)


def expected(original: Any) -> Any:
    if isinstance(original, datetime):
        return original.replace(microsecond=original.microsecond // 1000 * 1000)
    if isinstance(original, float):
        return Decimal(repr(original))
    if isinstance(original, int | Decimal):
        return Decimal(original)
    return original


@given(profile_values())
def test_valid_values_round_trip_through_tag_group_and_read_tag_group(
    case: tuple[str, dict[str, Any]],
) -> None:
    code, values = case
    built = tag_group(code, values)
    present = {name: value for name, value in values.items() if value is not None}

    read = read_tag_group([built], code)
    assert read is not None and list(read) == list(present)
    for name, value in present.items():
        assert read_back(read[name], value) == expected(value), name
    assert read_tag_group([built.dump()], code) == read
    validate_tag_group(built.dump())
