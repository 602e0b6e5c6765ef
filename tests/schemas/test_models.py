"""Strict in what we send, liberal in what we accept: the serialization rules of every Beckn object."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.core_v1 import (
    Action,
    Item,
    Location,
    Order,
    OrderStatus,
    OrderType,
    Payment,
    PaymentType,
    Price,
    Scalar,
    Tag,
    TagGroup,
    Time,
)
from tests.schemas.factories import envelope_for


def nulls_in(node: Any, path: str = "$") -> list[str]:
    if node is None:
        return [path]
    if isinstance(node, dict):
        return [found for key, value in node.items() for found in nulls_in(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [found for index, value in enumerate(node) for found in nulls_in(value, f"{path}[{index}]")]
    return []


@pytest.mark.parametrize("action", [Action.ON_SEARCH, Action.ON_CONFIRM, Action.ON_STATUS, Action.SEARCH])
def test_nulls_are_never_serialized(action: Action) -> None:
    assert nulls_in(envelope_for(action).dump()) == []


def test_nulls_inside_fields_we_do_not_model_are_dropped_too() -> None:
    item = Item.model_validate(
        {"id": "i1", "xtra": {"a": None, "b": [None, {"c": None, "d": 1}]}, "gone": None}
    )
    assert item.dump() == {"id": "i1", "xtra": {"b": [{"d": 1}]}}


@pytest.mark.parametrize(
    ("sent", "read"),
    [(5, "5"), (5.5, "5.5"), (8.00, "8"), (Decimal("0.250"), "0.25"), ("0.250", "0.250"), ("+1.5", "+1.5")],
)
def test_decimal_values_are_strings_on_the_wire(sent: object, read: str) -> None:
    price = Price.model_validate({"currency": "INR", "value": sent})
    assert price.value == read
    assert price.dump() == {"currency": "INR", "value": read}


@pytest.mark.parametrize("sent", [True, "kW", float("nan"), [1]])
def test_decimal_values_refuse_what_is_not_a_number(sent: object) -> None:
    with pytest.raises(ValidationError) as caught:
        Scalar.model_validate({"value": sent, "unit": "kW"})
    assert caught.value.errors()[0]["loc"][0] == "value"


def test_tag_values_sent_as_numbers_or_booleans_are_read_as_strings() -> None:
    group = TagGroup.model_validate({"list": [{"value": 400}, {"value": 1800.0}, {"value": False}]})
    assert [tag.value for tag in group.list or []] == ["400", "1800", "false"]


def test_enum_values_outside_the_spec_are_kept_when_read_and_left_out_when_sent() -> None:
    order = Order.model_validate({"id": "o1", "type": "event_participation", "status": "IN_PROGRESS"})
    assert (order.type, order.status) == ("event_participation", "IN_PROGRESS")
    assert order.dump() == {"id": "o1"}
    assert order.model_dump(exclude_none=True) == {
        "id": "o1",
        "type": "event_participation",
        "status": "IN_PROGRESS",
    }


def test_spec_enum_values_are_read_as_enums_and_sent() -> None:
    order = Order.model_validate({"status": "ACTIVE", "type": "DEFAULT"})
    assert order.status is OrderStatus.ACTIVE and order.type is OrderType.DEFAULT
    assert order.dump() == {"status": "ACTIVE", "type": "DEFAULT"}
    payment = Payment(type=PaymentType.POST_FULFILLMENT)
    assert payment.dump() == {"type": "POST-FULFILLMENT"}


def test_enum_fields_refuse_non_strings() -> None:
    with pytest.raises(ValidationError):
        Order.model_validate({"status": 3})


def test_timestamps_are_sent_in_utc_with_milliseconds() -> None:
    time = Time.model_validate(
        {"range": {"start": "2025-08-26T14:00:00+05:30", "end": "2025-08-26T23:59:59.999Z"}}
    )
    assert time.range is not None and time.range.start == datetime(2025, 8, 26, 8, 30, tzinfo=UTC)
    assert time.dump() == {"range": {"start": "2025-08-26T08:30:00.000Z", "end": "2025-08-26T23:59:59.999Z"}}


def test_naive_timestamps_are_read_as_utc() -> None:
    time = Time.model_validate({"timestamp": "2025-08-26T14:00:00"})
    assert time.timestamp == datetime(2025, 8, 26, 14, tzinfo=UTC)


def test_unknown_fields_survive_a_round_trip() -> None:
    data = {
        "id": "i1",
        "descriptor": {"name": "n", "x-grid": {"node": "feeder:F-3"}},
        "beckn:extra": [1, "two"],
    }
    assert Item.model_validate(data).dump() == data


def test_field_names_that_are_not_identifiers_keep_their_wire_name() -> None:
    location = Location.model_validate({"3dspace": "cube"})
    assert location.space_3d == "cube"
    assert location.dump() == {"3dspace": "cube"}
    assert Location(space_3d="cube").dump() == {"3dspace": "cube"}


def test_tag_group_keeps_its_list_field_name() -> None:
    group = TagGroup(list=[Tag(value="x")])
    assert group.dump() == {"list": [{"value": "x"}]}
