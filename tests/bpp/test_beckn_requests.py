"""Reading Beckn requests: liberal in the forms accepted, precise (code and path) about what is wrong."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bpp.beckn.errors import Refusal
from bpp.beckn.requests import read_cancel, read_order, read_search, read_update
from bpp.catalog.items import item_id, parse_item_id
from bpp.fleet.models import FlexDirection
from bpp.orders.requests import OfferRef, Window
from schemas.core_v1 import CancelMessage, Order, SearchMessage, UpdateMessage
from tests.bpp.factories import T0
from tests.bpp.flex_network import iso, order, search_message

PROVIDER = "aggregator.bpp"
WINDOW = (T0, T0 + timedelta(hours=1))


def search(**intent: Any) -> SearchMessage:
    return SearchMessage.model_validate({"intent": intent})


def refusal(call: Any) -> Refusal:
    with pytest.raises(Refusal) as refused:
        call()
    return refused.value


def test_a_search_reads_the_need_the_window_and_the_place() -> None:
    body = search_message(
        WINDOW,
        direction="INCREASE",
        required_kw="75.5",
        location={
            "area_code": "560001",
            "circle": {"gps": "12.97, 77.59", "radius": {"value": "2", "unit": "km"}},
        },
    )
    body["intent"]["tags"][0]["list"].append({"descriptor": {"code": "min_notice"}, "value": "PT30M"})
    message = SearchMessage.model_validate(body)

    query = read_search(message, provider_id=PROVIDER)

    assert query is not None
    assert query.direction is FlexDirection.INCREASE and query.required_kw == Decimal("75.5")
    assert query.window == Window(*WINDOW)
    assert query.min_notice == timedelta(minutes=30)
    assert query.area_code == "560001"
    assert query.circle is not None and query.circle.radius_m == 2000.0
    assert (query.circle.center.latitude, query.circle.center.longitude) == (12.97, 77.59)


def test_the_grid_node_comes_from_flex_need_or_the_stop_location() -> None:
    by_tag = read_search(
        SearchMessage.model_validate(search_message(None, grid_node="feeder:F-3")), provider_id=PROVIDER
    )
    by_location = read_search(
        SearchMessage.model_validate(search_message(None, location={"descriptor": {"code": "feeder:F-3"}})),
        provider_id=PROVIDER,
    )
    assert by_tag is not None and by_tag.grid_node == "feeder:F-3"
    assert by_location is not None and by_location.grid_node == "feeder:F-3"

    both = search_message(None, grid_node="feeder:F-3", location={"id": "feeder:F-4"})
    assert read_search(SearchMessage.model_validate(both), provider_id=PROVIDER) is None


def test_a_search_for_another_provider_or_item_matches_nothing_here() -> None:
    assert read_search(search(provider={"id": "other.bpp"}), provider_id=PROVIDER) is None
    assert read_search(search(item={"id": "a-sandwich"}), provider_id=PROVIDER) is None
    query = read_search(search(item={"id": "feeder:F-3:REDUCE"}), provider_id=PROVIDER)
    assert query is not None and query.item == OfferRef("feeder:F-3", FlexDirection.REDUCE)
    assert read_search(SearchMessage(), provider_id=PROVIDER) is not None


@pytest.mark.parametrize(
    ("location", "path", "words"),
    [
        (
            {"circle": {"gps": "north", "radius": {"value": "2", "unit": "km"}}},
            "circle.gps",
            "latitude,longitude",
        ),
        ({"circle": {"gps": "95,10", "radius": {"value": "2", "unit": "km"}}}, "circle.gps", "not on Earth"),
        ({"circle": {"gps": "12,77", "radius": {"value": "2"}}}, "circle.radius", "m or km"),
        (
            {"circle": {"gps": "12,77", "radius": {"value": "-2", "unit": "m"}}},
            "circle.radius.value",
            "positive",
        ),
    ],
)
def test_a_bad_circle_is_refused_at_its_path(location: dict[str, Any], path: str, words: str) -> None:
    message = SearchMessage.model_validate(search_message(None, location=location))
    refused = refusal(lambda: read_search(message, provider_id=PROVIDER))
    assert refused.code.value == "30000"
    assert refused.paths == f"message.intent.fulfillment.stops[0].location.{path}"
    assert words in refused.message


def test_a_bad_need_or_window_is_refused() -> None:
    backwards = SearchMessage.model_validate(search_message((WINDOW[1], WINDOW[0])))
    assert refusal(lambda: read_search(backwards, provider_id=PROVIDER)).paths == (
        "message.intent.fulfillment.stops[0].time.range.end"
    )
    sideways = SearchMessage.model_validate(search_message(WINDOW, direction="SIDEWAYS"))
    refused = refusal(lambda: read_search(sideways, provider_id=PROVIDER))
    assert refused.code.value == "30000" and refused.paths == "message.intent.tags[0].list[0].value"
    assert "REDUCE or INCREASE" in refused.message


def test_an_order_reads_one_item_its_kw_and_window() -> None:
    wire = Order.model_validate(order("0.25", WINDOW, billing=True))
    wire.items[0].quantity.selected.measure.unit = "MW"  # type: ignore[index, union-attr]

    request = read_order(wire, provider_id=PROVIDER)

    assert request.offer == OfferRef("transformer:TX-17", FlexDirection.REDUCE)
    assert request.kw == Decimal("250.00")
    assert request.window == Window(*WINDOW)
    assert request.billing == {"name": "Bay Utility", "email": "settlements@bay-utility.example"}
    assert read_order(Order.model_validate(order(None, None)), provider_id=PROVIDER).kw is None


@pytest.mark.parametrize(
    ("change", "code", "path"),
    [
        ({"provider": {"id": "other"}}, "30001", "message.order.provider.id"),
        ({"items": []}, "30000", "message.order.items"),
        ({"items": [{"id": "a"}, {"id": "b"}]}, "30000", "message.order.items"),
        ({"items": [{"descriptor": {"name": "x"}}]}, "30000", "message.order.items[0].id"),
        ({"items": [{"id": "nonsense"}]}, "30004", "message.order.items[0].id"),
        (
            {
                "items": [
                    {
                        "id": "feeder:F-3:REDUCE",
                        "quantity": {"selected": {"measure": {"value": "0", "unit": "kW"}}},
                    }
                ]
            },
            "30000",
            "message.order.items[0].quantity.selected.measure.value",
        ),
    ],
)
def test_an_order_that_cannot_be_read_is_refused(change: dict[str, Any], code: str, path: str) -> None:
    wire = Order.model_validate({**order("10", WINDOW), **change})
    refused = refusal(lambda: read_order(wire, provider_id=PROVIDER))
    assert (refused.code.value, refused.paths) == (code, path)


def test_update_targets_name_the_window_the_kw_or_both() -> None:
    def update(target: str, kw: str | None, window: Any) -> UpdateMessage:
        return UpdateMessage.model_validate(
            {"update_target": target, "order": order(kw, window, order_id="o-1")}
        )

    assert read_update(update("order.items[0].quantity", "20", None))[1].kw == Decimal(20)
    order_id, change = read_update(update("fulfillment, item", "30", WINDOW))
    assert (order_id, change.kw, change.window) == ("o-1", Decimal(30), Window(*WINDOW))
    assert read_update(update("order.fulfillments[0].stops", "99", WINDOW))[1].kw is None

    refused = refusal(lambda: read_update(update("order.payments", "20", None)))
    assert (refused.code.value, refused.paths) == ("30012", "message.update_target")
    refused = refusal(lambda: read_update(update("order.fulfillments[0].stops", "20", None)))
    assert refused.code.value == "30000"


def test_cancel_reads_the_reason() -> None:
    message = CancelMessage.model_validate(
        {"order_id": "o-1", "cancellation_reason_id": "4", "descriptor": {"short_desc": "grid is fine"}}
    )
    order_id, request = read_cancel(message)
    assert (order_id, request.reason_id, request.description) == ("o-1", "4", "grid is fine")


grid_nodes = st.from_regex(r"\A(transformer|feeder|substation|bus_bar):[A-Za-z0-9][A-Za-z0-9._:-]{0,30}\Z")


@given(grid_node=grid_nodes, direction=st.sampled_from(FlexDirection))
def test_item_ids_name_their_offer(grid_node: str, direction: FlexDirection) -> None:
    offer = OfferRef(grid_node, direction)
    assert parse_item_id(item_id(offer)) == offer


def test_times_are_read_with_any_offset() -> None:
    message = search_message(None)
    message["intent"]["fulfillment"]["stops"][0]["time"] = {
        "range": {"start": "2026-11-23T19:30:00+05:30", "end": iso(WINDOW[1])}
    }
    query = read_search(SearchMessage.model_validate(message), provider_id=PROVIDER)
    assert query is not None and query.window == Window(*WINDOW)
