"""Changing and cancelling confirmed orders from the desk (API and console), reflected everywhere."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from tests.bap.conftest import UtilityNetwork
from tests.bap.flows import activate
from tests.support.conformance import assert_conforms
from tests.support.network import outbound


def assert_sent_conforms(network: UtilityNetwork, *actions: str) -> None:
    """Every message the BAP sent is valid Beckn 1.1.1, and it sent each of `actions`."""
    sent = outbound(network.bap.database_url)
    assert set(actions) <= {record.action for record in sent}
    for record in sent:
        assert_conforms(json.loads(record.body))


def test_cancel_from_the_console_reaches_the_aggregator(network: UtilityNetwork) -> None:
    api, console = network.api(), network.console()
    console.next()
    event = activate(api, console)
    first, second = event["orders"]

    answer = console.command(f"cancel {first['id'][:8]}")
    assert answer["data"]["ok"], answer
    console.expect(
        "progress", lambda f: f["data"]["order_id"] == first["id"] and f["data"]["state"] == "CANCELLED"
    )
    aggregator = network.aggregators[first["aggregator_id"]]
    assert aggregator.book.actions()[-1] == "cancel"
    assert api.get(f"/api/orders/{first['id']}").json()["state"] == "CANCELLED"
    assert api.get(f"/api/flex-requests/{event['id']}").json()["state"] == "ACTIVE"

    assert api.post(f"/api/orders/{second['id']}/cancel", json={"reason": "peak passed"}).status_code == 202
    completed = console.expect("completed")["data"]
    assert (completed["event_id"], completed["state"]) == (event["id"], "CANCELLED")
    assert console.command(f"cancel {second['id']}")["data"]["ok"] is False
    assert_sent_conforms(network, "cancel")


def test_update_changes_window_and_kw_once_the_aggregator_agrees(network: UtilityNetwork) -> None:
    api, console = network.api(), network.console()
    console.next()
    event = activate(api, console)
    order = event["orders"][0]
    start = datetime.fromisoformat(order["window"]["start"]) + timedelta(minutes=30)
    end = datetime.fromisoformat(order["window"]["end"]) + timedelta(minutes=30)

    response = api.post(
        f"/api/orders/{order['id']}/update",
        json={"start": start.isoformat(), "end": end.isoformat(), "kw": "15"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["waiting_for"] == "on_update"
    assert api.post(f"/api/orders/{order['id']}/update", json={"kw": "10"}).status_code == 409

    console.expect(
        "progress", lambda f: f["data"]["order_id"] == order["id"] and f["data"]["waiting_for"] is None
    )
    changed = api.get(f"/api/orders/{order['id']}").json()
    assert (changed["committed_kw"], changed["requested_kw"]) == ("15", "15")
    assert datetime.fromisoformat(changed["window"]["start"]) == start
    assert [entry["action"] for entry in changed["timeline"]][-2:] == ["update", "on_update"]
    sent_update = network.aggregators[order["aggregator_id"]].book.received[-1]
    assert sent_update[0] == "update"
    assert sent_update[1]["message"]["order"]["id"] == order["bpp_order_id"]
    assert_sent_conforms(network, "update")


def test_status_on_request_and_validation(network: UtilityNetwork) -> None:
    api, console = network.api(), network.console()
    console.next()
    event = activate(api, console)
    order = event["orders"][0]
    assert api.post(f"/api/orders/{order['id']}/status").status_code == 202
    console.expect(
        "progress",
        lambda f: f["data"]["order_id"] == order["id"] and f["data"]["fulfillment_state"] == "SCHEDULED",
    )
    assert api.post(f"/api/orders/{order['id']}/update", json={}).status_code == 422
    assert api.get("/api/orders/no-such-order").status_code == 404
    listed = api.get("/api/orders", params={"state": "ACTIVE"}).json()
    assert {o["id"] for o in listed} == {o["id"] for o in event["orders"]}
    assert_sent_conforms(network, "status")
