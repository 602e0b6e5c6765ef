"""Event history and reliability: what was needed, offered, bought and delivered, whether it delivered, as
JSON and CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal

import pytest

from bap.events.history import outcome
from bap.orders.models import Order, OrderState
from tests.bap.conftest import UtilityNetwork
from tests.bap.flows import activate, open_event
from tests.bap.test_websocket import push


def test_history_after_a_completed_event_and_reliability_learned_from_it(
    network_factory: Callable[..., UtilityNetwork], empty_database_url: str
) -> None:
    network = network_factory(database_url=empty_database_url)
    api, console = network.api(), network.console()
    console.next()
    event = activate(api, console)
    alpha = next(o for o in event["orders"] if o["aggregator_id"] == "alpha.aggregator")
    beta = next(o for o in event["orders"] if o["aggregator_id"] == "beta.aggregator")
    push(network, alpha, "COMPLETED", alpha["committed_kw"], devices_acked=2, settled_amount="8")
    console.expect("progress", lambda f: f["data"]["order_id"] == alpha["id"] and f["data"]["outcome"])
    (running,) = api.get("/api/events").json()["events"]
    assert running["state"] == "ACTIVE" and running["outcome"] is None, "not COMPLETED while beta runs"
    assert {o["aggregator_id"]: o["outcome"] for o in running["orders"]} == {
        "alpha.aggregator": "COMPLETED",
        "beta.aggregator": None,
    }

    half = str(Decimal(beta["committed_kw"]) / 2)
    push(network, beta, "PARTIAL", half, devices_acked=1, settled_amount="3", shortfall_kwh=half)
    console.expect("completed")

    report = api.get("/api/events").json()
    (row,) = report["events"]
    assert (row["event_id"], row["state"], row["required_kw"]) == (event["id"], "COMPLETED", "50")
    assert len(row["offers"]) == 2 and len(row["orders"]) == 2
    assert row["cost"] == "11"
    assert Decimal(row["committed_kw"]) == Decimal(alpha["committed_kw"]) + Decimal(beta["committed_kw"])
    assert (row["outcome"], Decimal(row["shortfall_kwh"])) == ("PARTIAL", Decimal(half))
    orders = {o["aggregator_id"]: o for o in row["orders"]}
    assert (orders["alpha.aggregator"]["outcome"], orders["alpha.aggregator"]["shortfall_kwh"]) == (
        "COMPLETED",
        "0",
    )
    assert (orders["beta.aggregator"]["state"], orders["beta.aggregator"]["outcome"]) == (
        "COMPLETED",
        "PARTIAL",
    )
    assert Decimal(orders["beta.aggregator"]["shortfall_kwh"]) == Decimal(half)
    assert report["reliability"]["alpha.aggregator"][-1]["reliability"] == "1.0000"
    assert report["reliability"]["beta.aggregator"][-1]["ratio"] == "0.5000"

    table = list(csv.DictReader(io.StringIO(api.get("/api/events.csv").text)))
    assert [line["event_id"] for line in table] == [event["id"]]
    assert table[0]["offers"] == "2" and "alpha.aggregator=1.0000" in table[0]["reliability"]
    assert (table[0]["outcome"], Decimal(table[0]["shortfall_kwh"])) == ("PARTIAL", Decimal(half))
    assert f"alpha.aggregator:COMPLETED:{alpha['committed_kw']} kW:COMPLETED" in table[0]["orders"]
    assert f"beta.aggregator:COMPLETED:{beta['committed_kw']} kW:PARTIAL" in table[0]["orders"]

    open_event(api)
    offers = console.expect("options", lambda f: len(f["data"]["offers"]) == 2)["data"]["offers"]
    reliability = {
        offer["aggregator_id"]: (offer["offer_reliability"], offer["reliability"]) for offer in offers
    }
    assert reliability["alpha.aggregator"] == ("0.9", "0.925")
    assert reliability["beta.aggregator"] == ("0.95", "0.8375")
    table = list(csv.DictReader(io.StringIO(api.get("/api/events.csv").text)))
    assert table[0]["outcome"] == "" and table[0]["shortfall_kwh"] == "", "nothing known of a new event"


def order(state: OrderState, verdict: str | None = None, shortfall_kwh: str | None = None) -> Order:
    settlement = None if shortfall_kwh is None else {"shortfall_kwh": shortfall_kwh}
    return Order(state=state, outcome=verdict, settlement=settlement)


DONE = OrderState.COMPLETED


@pytest.mark.parametrize(
    ("orders", "expected"),
    [
        ([], None),
        ([order(DONE, "COMPLETED"), order(DONE, "COMPLETED")], "COMPLETED"),
        ([order(DONE, "COMPLETED"), order(DONE, "PARTIAL")], "PARTIAL"),  # one short is enough
        ([order(DONE, "PARTIAL"), order(OrderState.ACTIVE)], "PARTIAL"),  # and is final at once
        ([order(DONE, "COMPLETED"), order(OrderState.ACTIVE)], None),  # all delivered is not known yet
        ([order(DONE, "COMPLETED"), order(OrderState.CONFIRMING)], None),
        ([order(DONE, "COMPLETED"), order(DONE)], None),  # an ended order without a verdict
        ([order(DONE, None, "2.5"), order(DONE, "COMPLETED")], "PARTIAL"),  # the settlement's verdict
        ([order(DONE, None, "0"), order(OrderState.FAILED), order(OrderState.CANCELLED)], "COMPLETED"),
        ([order(OrderState.CANCELLED), order(OrderState.FAILED)], None),  # nothing ran to its end
    ],
)
def test_an_events_outcome_is_partial_when_any_order_fell_short_and_completed_when_all_delivered(
    orders: list[Order], expected: str | None
) -> None:
    assert outcome(orders) == expected
