"""Activation when an aggregator lets us down: a NACK, a changed quote or silence fails its order, raises
an alert, and the desk moves the order's reliable kW to the next-best offer not tried yet."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.bap.aggregator import Offer, Script
from tests.bap.conftest import UtilityNetwork
from tests.bap.flows import open_event
from tests.support.servers import wait_until


def market(**alpha: object) -> dict[str, Script]:
    """alpha: 40 kW cheap; beta: 60 kW and a dearer 40 kW that the first recommendation leaves out."""
    return {
        "alpha.aggregator": Script(
            offers=[Offer("alpha-batteries", Decimal("40"), Decimal("0.20"), Decimal("0.90"))],
            **alpha,  # type: ignore[arg-type]
        ),
        "beta.aggregator": Script(
            offers=[
                Offer("beta-loads", Decimal("60"), Decimal("0.30"), Decimal("0.95")),
                Offer("beta-chargers", Decimal("40"), Decimal("0.40"), Decimal("0.95")),
            ]
        ),
    }


def approve_and_expect_fallback(network: UtilityNetwork, kind: str) -> dict[str, Any]:
    api, console = network.api(), network.console()
    console.next()
    event_id = open_event(api)
    recommendation = console.expect("recommendation")["data"]
    assert {s["aggregator_id"] for s in recommendation["selections"]} == {
        "alpha.aggregator",
        "beta.aggregator",
    }
    assert console.command("yes, proceed")["data"]["ok"]

    failure = console.expect("alert", lambda f: f["data"]["kind"] == kind)["data"]
    assert failure["aggregator_id"] == "alpha.aggregator"
    fallback = console.expect("alert", lambda f: f["data"]["kind"] == "fallback")["data"]
    assert fallback["message"].startswith("moved 36 reliable kW from alpha.aggregator to beta.aggregator")

    def active() -> set[str]:
        return {
            f["data"]["order_id"]
            for f in console.frames
            if f["type"] == "progress" and f["data"]["state"] == "ACTIVE"
        }

    while len(active()) < 2:
        console.next()

    event: dict[str, Any] = api.get(f"/api/flex-requests/{event_id}").json()
    assert event["state"] == "ACTIVE"
    by_state = sorted((o["aggregator_id"], o["state"], o["round"]) for o in event["orders"])
    assert by_state == [
        ("alpha.aggregator", "FAILED", 0),
        ("beta.aggregator", "ACTIVE", 0),
        ("beta.aggregator", "ACTIVE", 1),
    ]
    replacement = next(o for o in event["orders"] if o["round"] == 1)
    assert replacement["items"][0]["item_id"] == "beta-chargers"
    assert replacement["transaction_id"] != event["transaction_id"]
    return event


def test_a_nack_on_select_falls_back(network_factory: Callable[..., UtilityNetwork]) -> None:
    network = network_factory(market(nack={"select"}))
    event = approve_and_expect_fallback(network, "aggregator_nack")
    failed = next(o for o in event["orders"] if o["state"] == "FAILED")
    assert "refused select" in failed["failure_reason"] and "40002" in failed["failure_reason"]


def test_a_nack_on_confirm_falls_back(network_factory: Callable[..., UtilityNetwork]) -> None:
    network = network_factory(market(nack={"confirm"}))
    approve_and_expect_fallback(network, "aggregator_nack")
    assert network.aggregators["alpha.aggregator"].book.actions()[-3:] == ["select", "init", "confirm"]


def test_a_changed_quote_falls_back(network_factory: Callable[..., UtilityNetwork]) -> None:
    network = network_factory(market(quote_factor=Decimal("1.5")))
    approve_and_expect_fallback(network, "quote_changed")
    assert "init" not in network.aggregators["alpha.aggregator"].book.actions()


def test_silence_past_the_activation_timeout_falls_back(
    network_factory: Callable[..., UtilityNetwork],
) -> None:
    network = network_factory(
        market(silent={"init"}), activation_timeout_seconds=1.5, scheduler_poll_seconds=0.2
    )
    approve_and_expect_fallback(network, "callback_timeout")


def test_an_aggregator_silent_on_search_is_reported(network_factory: Callable[..., UtilityNetwork]) -> None:
    network = network_factory(market(silent={"search"}), collection_seconds=1.5, scheduler_poll_seconds=0.2)
    api, console = network.api(), network.console()
    console.next()
    event_id = open_event(api)
    silent = console.expect("alert", lambda f: f["data"]["kind"] == "aggregator_silent")["data"]
    assert (silent["aggregator_id"], silent["event_id"]) == ("alpha.aggregator", event_id)
    recommendation = console.expect("recommendation")["data"]
    assert {s["aggregator_id"] for s in recommendation["selections"]} == {"beta.aggregator"}


def test_with_nothing_left_the_event_fails_and_says_so(
    network_factory: Callable[..., UtilityNetwork],
) -> None:
    only = {
        "alpha.aggregator": Script(
            [Offer("alpha-batteries", Decimal("60"), Decimal("0.20"))], nack={"select"}
        )
    }
    network = network_factory(only)
    api, console = network.api(), network.console()
    console.next()
    event_id = open_event(api)
    console.expect("recommendation")
    assert console.command("yes")["data"]["ok"]
    shortfall = console.expect("alert", lambda f: f["data"]["kind"] == "shortfall")["data"]
    assert "no offer is left to replace alpha.aggregator" in shortfall["message"]
    error = console.expect("error")["data"]
    assert (error["code"], error["event_id"]) == ("activation_failed", event_id)
    assert api.get(f"/api/flex-requests/{event_id}").json()["state"] == "FAILED"


def test_a_partial_recommendation_reports_the_gap(network: UtilityNetwork) -> None:
    api, console = network.api(), network.console()
    console.next()
    open_event(api, kw="200")
    recommendation = console.expect("recommendation")["data"]
    assert recommendation["partial"] is True and recommendation["gap_kw"] == "127"
    shortfall = console.expect("alert", lambda f: f["data"]["kind"] == "shortfall")["data"]
    assert "127 kW short" in shortfall["message"]


def test_a_confirmation_after_the_timeout_is_cancelled(
    network_factory: Callable[..., UtilityNetwork],
) -> None:
    network = network_factory(
        market(late={"confirm": 3.0}), activation_timeout_seconds=1.5, scheduler_poll_seconds=0.2
    )
    approve_and_expect_fallback(network, "callback_timeout")
    alpha = network.aggregators["alpha.aggregator"].book
    wait_until(lambda: alpha.actions()[-1:] == ["cancel"], what="the late order to be cancelled")
    (order_id,) = alpha.orders
    cancel = alpha.received[-1][1]
    assert cancel["message"]["order_id"] == order_id
    trail = network.api().get("/api/audit").json()
    assert any(e["action"] == "cancel_late_confirmation" and e["actor"] == "degflex" for e in trail)


def test_nobody_offering_is_an_alert(network_factory: Callable[..., UtilityNetwork]) -> None:
    network = network_factory({"alpha.aggregator": Script(offers=[])})
    api, console = network.api(), network.console()
    console.next()
    event_id = open_event(api)
    alert = console.expect("alert", lambda f: f["data"]["kind"] == "no_options")["data"]
    assert alert["event_id"] == event_id and "no aggregator offered" in alert["message"]
    assert api.get(f"/api/flex-requests/{event_id}").json()["state"] == "NO_OPTIONS"
