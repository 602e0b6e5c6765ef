"""The desk's rules on their own: wire formats, reliability, quotes, grid need, conflicts, the console hub."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bap.alerts.conflicts import conflicts
from bap.alerts.grid import flexibility_needed
from bap.console.hub import ConsoleHub
from bap.console.messages import MessageType, message
from bap.events.models import EventState
from bap.events.reliability import PRIOR_WEIGHT, blended, delivery_ratio
from bap.events.schemas import GridAlertIn
from bap.events.wire import DEFAULT_RELIABILITY, NeedOnWire, offers_in, search_message
from bap.orders.activation import quote_problem
from bap.orders.models import OrderState
from bap.orders.wire import Quote
from participant.operators import Operator, OperatorRole
from schemas.core_v1 import Action, Catalog, Context
from schemas.profile import profile_errors, read_tag_group
from tests.support.conformance import assert_conforms

START = datetime(2026, 11, 21, 17, tzinfo=UTC)


def test_the_search_carries_window_node_and_flex_need_and_conforms() -> None:
    body = search_message(
        NeedOnWire(
            "transformer:TX-17",
            "REDUCE",
            Decimal("80.000"),
            START,
            START + timedelta(hours=1),
            {"gps": "12.9,77.5"},
            timedelta(minutes=15),
        )
    )
    stop = body.intent.fulfillment.stops[0]  # type: ignore[union-attr, index]
    assert stop.location.id == "transformer:TX-17" and stop.location.gps == "12.9,77.5"  # type: ignore[union-attr]
    assert stop.time.range.start == START  # type: ignore[union-attr]
    need = read_tag_group(body.intent.tags, "flex_need")  # type: ignore[union-attr]
    assert need == {
        "direction": "REDUCE",
        "required_kw": "80",
        "min_notice": "PT15M",
        "grid_node": "transformer:TX-17",
    }
    context = Context.new(
        action=Action.SEARCH, domain="deg:demand-flex", bap_id="u", bap_uri="http://u.example"
    )
    envelope = {"context": context.dump(), "message": body.dump()}
    assert_conforms(envelope)
    assert profile_errors(body) == []


def item(item_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": item_id, **extra}


def test_offers_are_read_liberally_and_unusable_items_skipped() -> None:
    catalog = Catalog.model_validate(
        {
            "providers": [
                {
                    "id": "agg",
                    "descriptor": {"name": "Aggregator"},
                    "items": [
                        item(
                            "plain",
                            price={"value": "0.25", "currency": "INR"},
                            quantity={"available": {"measure": {"value": 30, "unit": "kW"}}},
                        ),
                        item("no-price", quantity={"available": {"measure": {"value": "30"}}}),
                        item("no-kw", price={"value": "0.25"}),
                        item(
                            "broken-terms",
                            price={"value": "0.25"},
                            quantity={"available": {"measure": {"value": "30"}}},
                            tags=[{"descriptor": {"code": "flex_offer"}, "list": []}],
                        ),
                    ],
                },
                {"items": [item("no-provider-id", price={"value": "1"})]},
            ]
        }
    )
    (offer,) = offers_in(catalog)
    assert (offer.item_id, offer.available_kw, offer.max_kw) == ("plain", Decimal(30), Decimal(30))
    assert offer.min_kw == Decimal(0)
    assert offer.reliability == DEFAULT_RELIABILITY and offer.provider_name == "Aggregator"


def test_reliability_blends_the_offer_with_the_track_record() -> None:
    assert blended(Decimal("0.9"), []) == Decimal("0.9")
    assert blended(Decimal("0.9"), [Decimal(1)]) == Decimal("0.925")
    assert delivery_ratio(Decimal(40), None, Decimal(30), START, START + timedelta(hours=1)) == Decimal(
        "0.75"
    )
    assert delivery_ratio(Decimal(40), Decimal(60), None, START, START + timedelta(hours=1)) == Decimal(1)
    assert delivery_ratio(None, Decimal(60), None, START, START) is None


@given(
    st.decimals(min_value=0, max_value=1, places=4),
    st.lists(st.decimals(min_value=0, max_value=1, places=4), max_size=20),
)
def test_blended_reliability_stays_between_the_claim_and_the_record(
    offer: Decimal, history: list[Decimal]
) -> None:
    value = blended(offer, history)
    low, high = min([offer, *history]), max([offer, *history])
    assert low - Decimal("0.0001") <= value <= high + Decimal("0.0001")
    assert PRIOR_WEIGHT > 0


def order(**values: Any) -> Any:
    base = {
        "aggregator_id": "agg",
        "requested_kw": Decimal(40),
        "expected_cost": Decimal("8.00"),
        "state": OrderState.ACTIVE,
        "committed_kw": Decimal(40),
        "expected_kw": Decimal(38),
        "delivered_kw": None,
        "fulfillment_state": "SCHEDULED",
        "devices_opted_out": None,
        "window_start": START,
        "event_id": "e1",
        "id": "o1",
    }
    base.update(values)
    return SimpleNamespace(**base)


@pytest.mark.parametrize(
    ("quote", "problem"),
    [
        (Quote(Decimal("8.00"), "INR", Decimal(40), None), None),
        (Quote(Decimal("8.17"), "INR", Decimal(40), None), None),
        (Quote(None, None, None, None), None),
        (Quote(Decimal("8.50"), "INR", Decimal(40), None), "8.50 instead of about 8.00"),
        (Quote(Decimal("6.00"), "INR", Decimal(30), None), "30 kW instead of 40 kW"),
    ],
)
def test_a_quote_changes_when_it_gives_fewer_kw_or_costs_more(quote: Quote, problem: str | None) -> None:
    found = quote_problem(order(), quote, Decimal("0.02"))
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("peak", "need"), [("500", "50"), ("450", "0"), ("430.0004", "-19.999"), ("470.1", "20.1")]
)
def test_grid_need_is_peak_minus_capacity_at_target_loading(peak: str, need: str) -> None:
    alert = GridAlertIn(
        node_id="transformer:TX-17",
        load_kw=Decimal(400),
        capacity_kw=Decimal(500),
        forecast_peak_kw=Decimal(peak),
        expected_start=START,
        duration=timedelta(hours=1),
    )
    assert flexibility_needed(alert, Decimal("0.9")) == Decimal(need)


def test_orders_at_risk() -> None:
    now = START - timedelta(hours=1)
    event: Any = SimpleNamespace(
        id="e1",
        state=EventState.ACTIVE,
        grid_node="transformer:TX-17",
        required_kw=Decimal(30),
        headroom=Decimal("1.1"),
        window_start=START,
        window_end=START + timedelta(hours=1),
    )
    orders = {
        "e1": [
            order(id="low", fulfillment_state="IN_PROGRESS", delivered_kw=Decimal(20)),
            order(id="opted", devices_opted_out=2),
            order(id="late", state=OrderState.CONFIRMING, window_start=now + timedelta(minutes=2)),
            order(id="fine"),
        ]
    }
    found = {
        c["order_id"]: c["message"] for c in conflicts([event], orders, now) if c["kind"] == "order_at_risk"
    }
    assert set(found) == {"low", "opted", "late"}
    assert "delivers 20 of 40 kW" in found["low"]
    over = [
        c
        for c in conflicts([event], {"e1": [order(), order(id="o2")]}, now)
        if c["kind"] == "over_procurement"
    ]
    assert over and over[0]["expected_kw"] == "76"


async def test_a_console_that_falls_behind_is_closed_not_waited_for() -> None:
    hub = ConsoleHub(queue_size=10)
    slow = hub.connect(Operator("slow", OperatorRole.VIEWER))
    quick = hub.connect(Operator("quick", OperatorRole.VIEWER))
    for index in range(11):
        hub.broadcast(message(MessageType.ALERT, index=index))
        if not quick.queue.empty():
            quick.queue.get_nowait()
    assert slow.overflowed and len(hub) == 1
    drained = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
    assert drained[-1] is None
