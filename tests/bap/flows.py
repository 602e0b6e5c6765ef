"""Steps the BAP tests share: a flexibility request, and driving an event to confirmed orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.bap.console import Console


def flex_request(
    kw: str = "50",
    severity: str = "high",
    *,
    hours_ahead: int = 2,
    hours: int = 1,
    node: str = "transformer:TX-17",
) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=hours_ahead)
    return {
        "grid_node": node,
        "location": {"gps": "12.9716,77.5946", "area_code": "560001"},
        "window": {"start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat()},
        "required_kw": kw,
        "direction": "REDUCE",
        "severity": severity,
    }


def open_event(api: httpx.Client, **request: Any) -> str:
    response = api.post("/api/flex-requests", json=flex_request(**request))
    assert response.status_code == 202, response.text
    event_id: str = response.json()["id"]
    return event_id


def activate(api: httpx.Client, console: Console, aggregators: int = 2, **request: Any) -> dict[str, Any]:
    """Open an event, approve it on the console, wait until `aggregators` orders are ACTIVE; the event."""
    event_id = open_event(api, **request)
    console.expect("recommendation", lambda f: f["data"]["event_id"] == event_id)
    answer = console.command(f"approve {event_id}")
    assert answer["data"]["ok"], answer
    while len(active_orders(console, event_id)) < aggregators:
        console.next()
    event: dict[str, Any] = api.get(f"/api/flex-requests/{event_id}").json()
    return event


def active_orders(console: Console, event_id: str) -> set[str]:
    """Orders of the event that the console has seen become ACTIVE, in any frame read so far."""
    return {
        frame["data"]["order_id"]
        for frame in console.frames
        if frame["type"] == "progress"
        and frame["data"]["event_id"] == event_id
        and frame["data"]["state"] == "ACTIVE"
    }
