"""`degflex bpp` as a process, a utility signing its requests and receiving callbacks on a real port:
search → on_search → select → on_select → init → on_init → confirm → on_confirm → status → on_status →
update → on_update → cancel → on_cancel, while the kW its init holds are out of another utility's reach
until it confirms. Every message both ways is valid against the official Beckn 1.1.1 spec and the DEG
flexibility profile's JSON Schemas, and the operator API shows the contract."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schemas.core_v1 import Action
from schemas.profile import profile_errors, read_tag_group
from tests.bpp.api import VIEWER_TOKEN, bearer
from tests.bpp.flex_network import (
    NODE,
    Market,
    assert_valid_callback,
    hour_window,
    iso,
    load,
    market,
    offer,
    order,
    search_message,
)
from tests.support.conformance import assert_conforms
from tests.support.databases import sqlite_url

pytestmark = pytest.mark.slow


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Market]:
    """TX-17: a 100 kW load, a battery and an EV charger; REDUCE and INCREASE offered."""
    devices = [
        load(flex_kw=100, device_id="load-1"),
        load(
            kind="BATTERY",
            device_id="battery-1",
            rated_kw=20,
            flex_kw=20,
            battery_capacity_kwh=80,
            state_of_charge=0.5,
        ),
        load(kind="EV_CHARGER", device_id="ev-1", rated_kw=11, flex_kw=11),
    ]
    offers = [offer(), offer(direction="INCREASE", reservation_price_per_kw=None)]
    with market(tmp_path, sqlite_url(tmp_path, "bpp"), offers, devices, as_process=True) as flex:
        yield flex


def test_a_contract_from_search_to_cancel_with_every_message_valid(running: Market) -> None:
    utility, bpp = running.utility, running.bpp
    window = hour_window(hours_ahead=2, length_hours=2)

    search = utility.send(bpp, Action.SEARCH, search_message(window, required_kw="120", grid_node=NODE))
    assert search.acked
    catalog = utility.callback(search)["message"]["catalog"]
    items = {item["id"]: item for item in catalog["providers"][0]["items"]}
    assert set(items) == {f"{NODE}:REDUCE"}  # the search asked for REDUCE
    reduce = items[f"{NODE}:REDUCE"]
    # load 100 + battery 20 (its 40 kWh last 2 h at 20 kW) + EV 11
    assert reduce["quantity"]["available"]["measure"]["value"] == "131"
    offer_tags = read_tag_group(reduce["tags"], "flex_offer")
    assert offer_tags is not None
    assert offer_tags["device_types"] == "BATTERY,EV_CHARGER,FLEXIBLE_LOAD"

    select = utility.send(
        bpp, Action.SELECT, {"order": order("120", window)}, transaction_id=search.transaction_id
    )
    quote = utility.callback(select)["message"]["order"]["quote"]
    assert quote["price"]["value"] == "240"  # 120 kW × 2 h × 0.25 + 120 kW × 1.5

    transaction = search.transaction_id
    init = utility.send(
        bpp, Action.INIT, {"order": order("120", window, billing=True)}, transaction_id=transaction
    )
    drafted = utility.callback(init)["message"]["order"]
    assert drafted["payments"][0]["type"] == "POST-FULFILLMENT"
    assert drafted["quote"]["ttl"] == "PT10M"  # the 120 kW are held this long for the confirm

    # While they are held, another utility finds 11 kW and cannot have 20.
    rival = running.rival
    rival_search = rival.send(bpp, Action.SEARCH, search_message(window, required_kw="20", grid_node=NODE))
    (left,) = rival.callback(rival_search)["message"]["catalog"]["providers"][0]["items"]
    assert left["quantity"]["available"]["measure"]["value"] == "11"
    refused = rival.callback(rival.send(bpp, Action.INIT, {"order": order("20", window)}))
    assert (refused["error"]["code"], "message" in refused) == ("40002", False)

    viewer = httpx.Client(base_url=bpp.url, headers=bearer(VIEWER_TOKEN))

    def capacity() -> tuple[int, int, int]:
        (entry,) = [
            row
            for row in viewer.get("/api/capacity", params={"at": iso(window[0])}).json()
            if row["direction"] == "REDUCE"
        ]
        return entry["committed_kw"], entry["held_kw"], entry["available_kw"]

    assert capacity() == (0, 120, 11)
    confirm = utility.send(bpp, Action.CONFIRM, {"order": order("120", window)}, transaction_id=transaction)
    confirmed = utility.callback(confirm)["message"]["order"]
    assert capacity() == (120, 0, 11), "the confirm committed the utility's own hold"
    order_id = confirmed["id"]
    commitment = read_tag_group(confirmed["tags"], "commitment")
    assert commitment is not None
    assert (commitment["committed_kw"], commitment["devices"]) == ("120", "3")

    status = utility.send(bpp, Action.STATUS, {"order_id": order_id}, transaction_id=transaction)
    assert utility.callback(status)["message"]["order"]["fulfillments"][0]["state"]["descriptor"]["code"] == (
        "SCHEDULED"
    )

    later = hour_window(hours_ahead=3, length_hours=1)
    update = utility.send(
        bpp,
        Action.UPDATE,
        {"update_target": "order.fulfillments[0].stops", "order": order(None, later, order_id=order_id)},
        transaction_id=transaction,
    )
    updated = utility.callback(update)["message"]["order"]
    assert updated["fulfillments"][0]["stops"][0]["time"]["range"] == {
        "start": iso(later[0]),
        "end": iso(later[1]),
    }

    cancel = utility.send(bpp, Action.CANCEL, {"order_id": order_id}, transaction_id=transaction)
    assert utility.callback(cancel)["message"]["order"]["status"] == "CANCELLED"

    for request in utility.sent:
        assert_conforms(request)
        assert profile_errors(request["message"]) == []
    received = [utility.callbacks(Action(request["context"]["action"])) for request in utility.sent]
    assert [len(callbacks) for callbacks in received] == [1] * 7
    for (callback,) in received:
        assert_valid_callback(callback)

    detail = viewer.get(f"/api/orders/{order_id}").json()
    timeline = [(entry["direction"], entry["action"], entry["ack_status"]) for entry in detail["messages"]]
    assert timeline == [
        (direction, action, "ACK")
        for request in ("search", "select", "init", "confirm", "status", "update", "cancel")
        for direction, action in (("in", request), ("out", f"on_{request}"))
    ]
    assert detail["messages"][0]["body"] == utility.sent[0]
    assert viewer.get("/api/orders", params={"status": "CANCELLED"}).json()[0]["id"] == order_id
    assert httpx.get(f"{bpp.url}/api/orders").status_code == 401
    viewer.close()
