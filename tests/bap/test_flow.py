"""The whole desk flow against two aggregators on real HTTP: request → offers → recommendation →
approval over the console → orders confirmed with both → progress and completion pushed to operators."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.bap.conftest import UtilityNetwork
from tests.support.conformance import assert_conforms


def flex_request(kw: str = "50", severity: str = "high", hours: int = 1) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    return {
        "grid_node": "transformer:TX-17",
        "location": {"gps": "12.9716,77.5946", "area_code": "560001"},
        "window": {"start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat()},
        "required_kw": kw,
        "direction": "REDUCE",
        "severity": severity,
    }


def test_request_to_confirmed_orders_with_both_aggregators(
    network_factory: Callable[..., UtilityNetwork], empty_database_url: str
) -> None:
    """On SQLite, and on PostgreSQL when configured: the BAP migrates its own database at start."""
    network = network_factory(database_url=empty_database_url)
    api, console = network.api(), network.console()
    first = console.next()
    assert first["type"] == "snapshot" and first["seq"] == 1

    response = api.post("/api/flex-requests", json=flex_request())
    assert response.status_code == 202, response.text
    event_id = response.json()["id"]

    console.expect("options", lambda f: len(f["data"]["offers"]) == 2)
    recommendation = console.expect("recommendation")["data"]
    assert recommendation["event_id"] == event_id and recommendation["requires_approval"]
    assert {s["aggregator_id"] for s in recommendation["selections"]} == {
        "alpha.aggregator",
        "beta.aggregator",
    }

    answer = console.command("yes, proceed")
    assert answer["type"] == "reply" and answer["data"]["ok"], answer

    confirmed: set[str] = set()
    while len(confirmed) < 2:
        progress = console.expect("progress", lambda f: f["data"]["state"] == "ACTIVE")["data"]
        confirmed.add(progress["aggregator_id"])
        assert progress["bpp_order_id"].startswith("ord-")

    seqs = [frame["seq"] for frame in console.frames]
    assert seqs == list(range(1, len(seqs) + 1))
    event = api.get(f"/api/flex-requests/{event_id}").json()
    assert event["state"] == "ACTIVE"
    assert {order["state"] for order in event["orders"]} == {"ACTIVE"}
    log = api.get(f"/api/beckn/transactions/{event['transaction_id']}").json()
    assert [entry["action"] for entry in log["sent"]].count("confirm") == 2
    for entry in log["sent"]:
        assert_conforms(entry["body"])
