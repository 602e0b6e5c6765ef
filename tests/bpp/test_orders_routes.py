"""`/api/orders` over HTTP: viewers list and filter orders and read one with its history and messages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schemas.core_v1 import Action
from tests.bpp.api import VIEWER_TOKEN, bearer
from tests.bpp.flex_network import Market, hour_window, load, market, offer, order

pytestmark = pytest.mark.slow


@pytest.fixture
def with_orders(tmp_path: Path, database_url: str) -> Iterator[tuple[Market, str, str]]:
    """An ACTIVE order of the utility (TX-17) and a DRAFT of the rival (F-3); their ids."""
    offers = [offer(), offer("feeder:F-3")]
    with market(tmp_path, database_url, offers, [load(), load("feeder:F-3", device_id="f3")]) as flex:
        window = hour_window()
        init = flex.utility.send(flex.bpp, Action.INIT, {"order": order("40", window)})
        flex.utility.callback(init)
        confirm = flex.utility.send(
            flex.bpp, Action.CONFIRM, {"order": order("40", window)}, transaction_id=init.transaction_id
        )
        active = flex.utility.callback(confirm)["message"]["order"]["id"]
        draft = flex.rival.send(
            flex.bpp, Action.INIT, {"order": order("20", window, item="feeder:F-3:REDUCE")}
        )
        flex.rival.callback(draft)
        (drafted,) = flex.api.get("/api/orders", bap_id="rival.bap")
        yield flex, active, drafted["id"]


def test_orders_are_filtered(with_orders: tuple[Market, str, str]) -> None:
    flex, active, draft = with_orders
    viewer = httpx.Client(base_url=flex.bpp.url, headers=bearer(VIEWER_TOKEN))

    def ids(**params: str) -> list[str]:
        response = viewer.get("/api/orders", params=params)
        assert response.status_code == 200, response.text
        return [entry["id"] for entry in response.json()]

    assert ids() == [draft, active]
    assert ids(status="ACTIVE") == [active]
    assert ids(fulfillment_state="SCHEDULED") == [active]
    assert ids(grid_node="feeder:F-3") == [draft]
    assert ids(direction="INCREASE") == []
    assert ids(limit="1", offset="1") == [active]
    start = viewer.get("/api/orders").json()[0]["window_start"]
    assert ids(starts_after=start) == [draft, active]
    assert ids(starts_before=start) == []
    assert viewer.get("/api/orders", params={"starts_after": "2026-11-21T10:00:00"}).status_code == 400
    assert viewer.get("/api/orders", params={"status": "PENDING"}).status_code == 422
    viewer.close()


def test_an_order_is_read_with_its_events_and_messages(with_orders: tuple[Market, str, str]) -> None:
    flex, active, draft = with_orders

    detail = flex.api.get(f"/api/orders/{active}")
    assert detail["order"]["status"] == "ACTIVE" and detail["order"]["reservation_id"]
    assert [event["kind"] for event in detail["events"]] == ["DRAFTED", "CONFIRMED"]
    assert [(m["direction"], m["action"]) for m in detail["messages"]] == [
        ("in", "init"),
        ("out", "on_init"),
        ("in", "confirm"),
        ("out", "on_confirm"),
    ]
    assert all(message["body"]["context"]["bap_id"] == "utility.bap" for message in detail["messages"])

    assert flex.api.client.get("/api/orders/no-such-order").status_code == 404
    assert httpx.get(f"{flex.bpp.url}/api/orders/{draft}").status_code == 401
