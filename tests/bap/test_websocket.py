"""The console WebSocket: token check at the handshake, a snapshot first, then every message type in order.

Real sockets (`websockets` client) against the BAP on uvicorn; aggregators on real HTTP.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.bap.conftest import OPERATOR_TOKEN, VIEWER_TOKEN, UtilityNetwork
from tests.bap.console import Console
from tests.bap.flows import activate, open_event


@pytest.mark.parametrize("query", ["", "?token=", "?token=not-a-token-of-anyone-at-all"])
def test_the_handshake_is_refused_with_401_without_a_valid_token(network: UtilityNetwork, query: str) -> None:
    url = network.bap.url.replace("http://", "ws://") + "/api/ws" + query
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=10)
    assert refused.value.response.status_code == 401


def test_first_frame_is_a_snapshot_of_the_current_state(network: UtilityNetwork) -> None:
    api = network.api()
    with Console.open(network.bap.url, OPERATOR_TOKEN) as first:
        assert first.next()["type"] == "snapshot"
        event_id = open_event(api)
        first.expect("recommendation")
    with Console.open(network.bap.url, VIEWER_TOKEN) as again:
        snapshot = again.next()
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == 1
    assert snapshot["data"]["operator"] == {"name": "auditor", "role": "viewer"}
    (event,) = snapshot["data"]["events"]
    assert event["id"] == event_id and event["state"] == "AWAITING_APPROVAL"
    assert len(event["offers"]) == 2
    assert event["recommendation"]["requires_approval"] is True
    assert "yes, proceed" in snapshot["data"]["help"]


def test_alert_options_and_recommendation_are_pushed(network: UtilityNetwork) -> None:
    api, console = network.api(), network.console()
    console.next()
    response = api.post(
        "/api/grid-alerts",
        json={
            "node_id": "transformer:TX-17",
            "load_kw": 400,
            "capacity_kw": 500,
            "forecast_peak_kw": 500,
            "expected_start": flex_window_start(),
            "duration": "PT1H",
        },
    )
    assert response.status_code == 202, response.text
    alert = console.expect("alert")["data"]
    assert alert["kind"] == "grid_stress" and alert["event_id"] == response.json()["event"]["id"]
    options = console.expect("options")["data"]
    assert options["grid_node"] == "transformer:TX-17"
    assert {"id", "aggregator_id", "available_kw", "price_per_kwh", "reliability"} <= set(
        options["offers"][0]
    )
    recommendation = console.expect("recommendation")["data"]
    assert recommendation["required_kw"] == "50"
    assert recommendation["prompt"].startswith("Reply 'yes, proceed'")


def flex_window_start() -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0).isoformat()


def push(network: UtilityNetwork, order: dict[str, Any], state: str, delivered: str, **extra: Any) -> None:
    aggregator = network.aggregators[order["aggregator_id"]]
    response = httpx.post(
        f"{aggregator.member.url}/test/progress",
        json={
            "bap_id": network.bap.subscriber_id,
            "bap_uri": network.bap.url,
            "order_id": order["bpp_order_id"],
            "state": state,
            "delivered_kw": delivered,
            **extra,
        },
    )
    assert response.status_code == 200, response.text


def test_progress_participation_and_completed(network: UtilityNetwork) -> None:
    api, console = network.api(), network.console()
    console.next()
    event = activate(api, console)
    first, second = event["orders"]

    push(network, first, "IN_PROGRESS", first["committed_kw"], devices_acked=3, devices_opted_out=1)
    progress = console.expect("progress", lambda f: f["data"]["fulfillment_state"] == "IN_PROGRESS")["data"]
    assert progress["delivered_kw"] == first["committed_kw"]
    participation = console.next()
    assert participation["type"] == "participation"
    assert (participation["data"]["order_id"], participation["data"]["devices_acked"]) == (first["id"], 3)
    assert participation["data"]["devices_opted_out"] == 1

    push(network, first, "COMPLETED", first["committed_kw"], devices_acked=3, settled_amount="4.5")
    done = console.expect(
        "progress", lambda f: f["data"]["order_id"] == first["id"] and f["data"]["state"] == "COMPLETED"
    )["data"]
    assert done["settlement"]["net_amount"] == "4.5" and done["currency"] == "INR"
    assert done["quoted_cost"] == first["quoted_cost"]
    push(network, second, "COMPLETED", second["committed_kw"], devices_acked=4, settled_amount="7.25")
    completed = console.expect("completed")["data"]
    assert completed["event_id"] == event["id"] and completed["state"] == "COMPLETED"
    assert completed["cost"] == "11.75"
    assert api.get(f"/api/flex-requests/{event['id']}").json()["state"] == "COMPLETED"


def test_reply_and_error(network: UtilityNetwork) -> None:
    with Console.open(network.bap.url, VIEWER_TOKEN) as viewer:
        viewer.next()
        helped = viewer.command("help")
        assert (
            helped["type"] == "reply" and helped["data"]["ok"] and "cancel <order>" in helped["data"]["text"]
        )
        unknown = viewer.command("please fix the grid")
        assert unknown["type"] == "reply" and not unknown["data"]["ok"]
        assert "did not understand" in unknown["data"]["text"] and "yes, proceed" in unknown["data"]["text"]
        denied = viewer.command("yes, proceed")
        assert denied["type"] == "error" and denied["data"]["code"] == "forbidden"
        nothing = viewer.command("show options")
        assert nothing["type"] == "reply" and not nothing["data"]["ok"]


def test_every_console_gets_the_same_messages_in_the_same_order(network: UtilityNetwork) -> None:
    api = network.api()
    one, two = network.console(), network.console(VIEWER_TOKEN)
    one.next(), two.next()
    open_event(api)
    one.expect("recommendation")
    two.expect("recommendation")
    pushed = [(f["type"], f["data"]) for f in one.frames[1:]]
    assert pushed == [(f["type"], f["data"]) for f in two.frames[1:]]
    for console in (one, two):
        assert [f["seq"] for f in console.frames] == list(range(1, len(console.frames) + 1))


def test_a_json_command_frame_works_too(network: UtilityNetwork) -> None:
    console = network.console()
    console.next()
    answer = console.command('{"command": "status"}')
    assert answer["type"] == "reply" and answer["data"]["command"] == "status"
