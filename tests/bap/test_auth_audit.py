"""Operator tokens and roles on the API, and the audit trail of every desk action."""

from __future__ import annotations

import httpx
import pytest

from tests.bap.conftest import ADMIN_TOKEN, VIEWER_TOKEN, UtilityNetwork
from tests.bap.flows import flex_request, open_event

READS = [
    "/api/status",
    "/api/alerts",
    "/api/conflicts",
    "/api/events",
    "/api/events.csv",
    "/api/audit",
    "/api/flex-requests",
    "/api/orders",
]


@pytest.mark.parametrize("path", READS)
def test_every_api_needs_a_valid_token(network: UtilityNetwork, path: str) -> None:
    assert httpx.get(network.bap.url + path).status_code == 401
    wrong = httpx.get(network.bap.url + path, headers={"Authorization": "Bearer not-a-known-token-at-all"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert network.api(VIEWER_TOKEN).get(path).status_code == 200


def test_a_viewer_reads_but_cannot_open_or_approve(network: UtilityNetwork) -> None:
    operator, viewer = network.api(), network.api(VIEWER_TOKEN)
    assert viewer.post("/api/flex-requests", json=flex_request()).status_code == 403
    console = network.console()
    console.next()
    event_id = open_event(operator)
    console.expect("recommendation")
    refused = viewer.post(f"/api/flex-requests/{event_id}/approve")
    assert refused.status_code == 403 and "viewer" in refused.json()["detail"]
    assert viewer.get(f"/api/flex-requests/{event_id}").json()["state"] == "AWAITING_APPROVAL"
    attempts = [(e["actor"], e["action"], e["outcome"]) for e in viewer.get("/api/audit").json()]
    assert ("auditor", "approve", "forbidden") in attempts
    assert ("auditor", "open_flex_request", "forbidden") in attempts


def test_decisions_are_audited_with_who_how_and_the_outcome(network: UtilityNetwork) -> None:
    operator = network.api()
    viewer_console, console = network.console(VIEWER_TOKEN), network.console()
    viewer_console.next(), console.next()
    event_id = open_event(operator)
    console.expect("recommendation")
    assert viewer_console.command("approve")["type"] == "error"
    assert console.command("decline")["data"]["ok"]
    assert console.command("decline")["data"]["ok"] is False

    trail = network.api(ADMIN_TOKEN).get("/api/audit").json()
    seen = [(e["actor"], e["action"], e["channel"], e["outcome"], e["target_id"]) for e in reversed(trail)]
    assert seen == [
        ("control-room", "open_event", "api", "ok", event_id),
        ("auditor", "approve", "websocket", "forbidden", None),
        ("control-room", "decline", "websocket", "ok", event_id),
        ("control-room", "decline", "websocket", "refused", None),
    ]


def test_adjust_then_approve_over_the_api(network: UtilityNetwork) -> None:
    api, console = network.api(), network.console()
    console.next()
    event_id = open_event(api, kw="20")
    recommendation = console.expect("recommendation")["data"]
    (only,) = recommendation["selections"]
    event = api.get(f"/api/flex-requests/{event_id}").json()
    other = next(offer for offer in event["offers"] if offer["id"] != only["option_id"])

    too_much = api.post(
        f"/api/flex-requests/{event_id}/adjust", json={"takes": [{"offer_id": other["id"], "kw": "999"}]}
    )
    assert too_much.status_code == 422
    changed = api.post(
        f"/api/flex-requests/{event_id}/adjust",
        json={"takes": [{"offer_id": only["option_id"], "kw": "0"}, {"offer_id": other["id"], "kw": "25"}]},
    )
    assert changed.status_code == 200, changed.text
    (taken,) = changed.json()["recommendation"]["selections"]
    assert (taken["option_id"], taken["kw"]) == (other["id"], "25")
    console.expect("recommendation", lambda f: f["data"]["explanation"] == "Adjusted by an operator.")

    approved = api.post(f"/api/flex-requests/{event_id}/approve")
    assert approved.status_code == 200, approved.text
    console.expect(
        "progress",
        lambda f: f["data"]["state"] == "ACTIVE" and f["data"]["aggregator_id"] == other["aggregator_id"],
    )
    again = api.post(f"/api/flex-requests/{event_id}/approve")
    assert again.status_code == 409
