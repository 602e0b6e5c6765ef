"""Grid stress in (HTTP and NATS), curtailment, the critical-event policy, conflicts and alerts out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats

from participant.natsserver import EmbeddedNatsServer
from registry_client.keys import generate_identity
from schemas.core_v1 import Action
from tests.bap.conftest import UtilityNetwork
from tests.bap.flows import open_event
from tests.support.network import callback_body, signed_headers
from tests.support.servers import free_port, wait_until


def alert(peak: str, severity: str = "high") -> dict[str, Any]:
    return {
        "node_id": "transformer:TX-17",
        "load_kw": "420",
        "capacity_kw": "500",
        "forecast_peak_kw": peak,
        "expected_start": (datetime.now(UTC) + timedelta(hours=3)).isoformat(),
        "duration": "PT2H",
        "severity": severity,
    }


def test_a_grid_alert_within_target_loading_opens_nothing(network: UtilityNetwork) -> None:
    response = network.api().post("/api/grid-alerts", json=alert("440"))
    assert response.status_code == 202
    assert response.json() == {"need_kw": "-10", "event": None}
    assert network.api().get("/api/flex-requests").json() == []


def test_a_grid_alert_opens_an_event_for_the_need(network: UtilityNetwork) -> None:
    response = network.api().post("/api/grid-alerts", json=alert("475.5"))
    body = response.json()
    assert body["need_kw"] == "25.5"
    event = body["event"]
    assert (event["source"], event["required_kw"], event["grid_node"]) == (
        "grid_alert",
        "25.5",
        "transformer:TX-17",
    )
    start, end = (datetime.fromisoformat(event["window"][k]) for k in ("start", "end"))
    assert end - start == timedelta(hours=2)
    assert event["grid_alert"]["forecast_peak_kw"] == "475.5"
    assert (
        network.api().post("/api/grid-alerts", json={**alert("500"), "node_id": "TX-17"}).status_code == 422
    )


def test_a_critical_event_is_activated_without_waiting(network: UtilityNetwork) -> None:
    api, console = network.api(), network.console()
    console.next()
    api.post("/api/grid-alerts", json=alert("500", severity="critical"))
    recommendation = console.expect("recommendation")["data"]
    console.expect("progress", lambda f: f["data"]["state"] == "ACTIVE")
    event = api.get(f"/api/flex-requests/{recommendation['event_id']}").json()
    assert event["decided_by"] == "policy"
    trail = api.get("/api/audit").json()
    assert any(
        e["actor"] == "policy" and e["action"] == "approve" and e["channel"] == "policy" for e in trail
    )


def test_critical_events_wait_when_the_policy_says_so(network_factory: Callable[..., UtilityNetwork]) -> None:
    network = network_factory(auto_activate_critical=False)
    console = network.console()
    console.next()
    network.api().post("/api/grid-alerts", json=alert("500", severity="critical"))
    assert console.expect("recommendation")["data"]["requires_approval"] is True


def test_grid_alerts_from_nats(network_factory: Callable[..., UtilityNetwork], tmp_path: Path) -> None:
    with EmbeddedNatsServer(tmp_path / "nats", port=free_port(), monitor_port=free_port()) as server:
        network = network_factory(nats_url=server.url)
        api = network.api()
        wait_until(
            lambda: api.get("/api/status").json()["grid_alerts"]["listening"], what="the NATS subscriber"
        )
        console = network.console()
        console.next()

        async def publish() -> None:
            client = await nats.connect(server.url)
            await client.publish("degflex.grid.alerts", b"not json")
            await client.publish("degflex.grid.alerts", json.dumps(alert("470")).encode())
            await client.flush()
            await client.close()

        asyncio.run(publish())
        stress = console.expect("alert", lambda f: f["data"]["kind"] == "grid_stress")["data"]
        event = api.get(f"/api/flex-requests/{stress['event_id']}").json()
        assert (event["source"], event["required_kw"], event["created_by"]) == ("nats", "20", "grid-alerts")


def test_direct_curtailment(network: UtilityNetwork) -> None:
    response = network.api().post(
        "/api/curtailment",
        json={"grid_node": "feeder:F-3", "kw": "30", "duration": "PT30M", "reason": "fault"},
    )
    assert response.status_code == 202, response.text
    event = response.json()
    assert (event["source"], event["direction"], event["severity"], event["note"]) == (
        "curtailment",
        "REDUCE",
        "high",
        "fault",
    )
    start, end = (datetime.fromisoformat(event["window"][k]) for k in ("start", "end"))
    assert end - start == timedelta(minutes=30)


def test_overlapping_events_and_under_procurement_are_conflicts(network: UtilityNetwork) -> None:
    api, console = network.api(), network.console()
    console.next()
    first = open_event(api, kw="20")
    second = open_event(api, kw="30")
    console.until(lambda: {f["data"]["event_id"] for f in console.seen("recommendation")} == {first, second})
    conflicts = api.get("/api/conflicts").json()
    (overlap,) = [c for c in conflicts if c["kind"] == "overlap"]
    assert set(overlap["event_ids"]) == {first, second}

    event = api.get(f"/api/flex-requests/{first}").json()
    (selection,) = event["recommendation"]["selections"]
    api.post(
        f"/api/flex-requests/{first}/adjust",
        json={"takes": [{"offer_id": selection["option_id"], "kw": "10"}]},
    )
    assert api.post(f"/api/flex-requests/{first}/approve").status_code == 200
    conflicts = api.get("/api/conflicts").json()
    under = [c for c in conflicts if c["kind"] == "under_procurement"]
    assert [c["event_id"] for c in under] == [first]


def test_signature_failures_show_up_as_alerts(network: UtilityNetwork) -> None:
    aggregator = network.aggregators["alpha.aggregator"].member
    body = callback_body(Action.ON_SEARCH, bap=network.bap, bpp=aggregator)
    forged = signed_headers(body, generate_identity(aggregator.subscriber_id))
    response = httpx.post(f"{network.bap.url}/on_search", content=body, headers=forged)
    assert response.status_code == 401
    alerts = network.api().get("/api/alerts").json()
    (failure,) = [a for a in alerts if a["kind"] == "signature_failure"]
    assert failure["aggregator_id"] == "alpha.aggregator" and "on_search" in failure["message"]


def test_status_lists_the_aggregators_from_the_registry(network: UtilityNetwork) -> None:
    status = network.api().get("/api/status").json()
    assert {a["subscriber_id"] for a in status["aggregators"]} == {"alpha.aggregator", "beta.aggregator"}
    assert status["subscriber_id"] == "utility.bap" and status["grid_alerts"] is None
    assert status["policy"]["target_loading"] == "0.9"
