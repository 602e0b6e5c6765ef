"""The utility's BAP with two real aggregator BPPs (`create_bpp_app`), keys and URLs from a real registry,
all on real HTTP, operators on real WebSockets.

Run 1: a grid alert → offers from both → a recommendation taking both → `yes, proceed` on the console →
orders confirmed with both → operators see the progress. Run 2: the cheaper aggregator withdraws its offer
before approval, NACKs the select, and the desk falls back to the other one and says so.
Every message the BAP sends is checked against the official Beckn core 1.1.1 spec.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bap.app import create_bap_app
from bpp.app import create_bpp_app
from tests.bap.conftest import OPERATOR_TOKEN, bap_settings
from tests.bap.console import Console
from tests.bpp.api import ADMIN_TOKEN
from tests.bpp.flex_network import Api, bpp_settings, load, offer, write_offers
from tests.support.conformance import assert_conforms
from tests.support.network import Member, new_member, outbound, register, registry_server
from tests.support.servers import ThreadedServer

pytestmark = pytest.mark.slow

NODE = "transformer:TX-17"


@dataclass
class Grid:
    bap: Member
    bpps: dict[str, Member]
    admin: dict[str, Api]

    def api(self, stack: ExitStack) -> httpx.Client:
        return stack.enter_context(
            httpx.Client(
                base_url=self.bap.url, headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}, timeout=30
            )
        )


@pytest.fixture
def grid(tmp_path: Path) -> Iterator[Grid]:
    """A registry, aggregators alpha (40 kW at 0.20/kWh) and beta (60 kW at 0.30/kWh) on TX-17, the BAP."""
    fleets = {"alpha.aggregator": ("0.20", 40), "beta.aggregator": ("0.30", 60)}
    with ExitStack() as stack:
        registry = stack.enter_context(registry_server(tmp_path))
        bap = new_member(tmp_path, "utility.bap")
        register(registry.url, bap.identity, type="BAP", url=bap.url)
        bpps, admin = {}, {}
        for name, (price, kw) in fleets.items():
            member = new_member(tmp_path, name)
            register(registry.url, member.identity, type="BPP", url=member.url)
            offers = write_offers(
                tmp_path / f"{name}.offers.yaml",
                offer(NODE, price_per_kwh=price, reservation_price_per_kw=None, min_notice_s=600),
            )
            stack.enter_context(
                ThreadedServer(create_bpp_app(bpp_settings(member, registry.url, offers)), port=member.port)
            )
            api = Api(member.url, ADMIN_TOKEN)
            stack.callback(api.close)
            api.add_device(load(NODE, flex_kw=kw, device_id=f"{name.split('.')[0]}-load"))
            bpps[name], admin[name] = member, api
        settings = bap_settings(bap, registry.url, collection_seconds=15.0, activation_timeout_seconds=15.0)
        stack.enter_context(ThreadedServer(create_bap_app(settings), port=bap.port))
        yield Grid(bap, bpps, admin)


def grid_alert(peak_kw: int) -> dict[str, Any]:
    """500 kW transformer, 0.9 target loading: the need is peak − 450 kW, two hours from now for an hour."""
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0)
    return {
        "node_id": NODE,
        "load_kw": "430",
        "capacity_kw": "500",
        "forecast_peak_kw": str(peak_kw),
        "expected_start": start.isoformat(),
        "duration": "PT1H",
        "severity": "high",
    }


def assert_everything_sent_conforms(bap: Member) -> None:
    sent = outbound(bap.database_url)
    assert {record.action for record in sent} >= {"search", "select", "init", "confirm"}
    for record in sent:
        assert_conforms(json.loads(record.body))


def test_grid_alert_to_orders_confirmed_with_both_aggregators(grid: Grid) -> None:
    with ExitStack() as stack:
        api = grid.api(stack)
        console = stack.enter_context(Console.open(grid.bap.url, OPERATOR_TOKEN))
        assert console.next()["type"] == "snapshot"

        response = api.post("/api/grid-alerts", json=grid_alert(peak_kw=530))
        assert response.status_code == 202, response.text
        assert response.json()["need_kw"] == "80"
        stress = console.expect("alert", lambda f: f["data"]["kind"] == "grid_stress")
        assert "80 kW" in stress["data"]["message"]

        options = console.expect(
            "options", lambda f: len({o["aggregator_id"] for o in f["data"]["offers"]}) == 2
        )
        assert {o["available_kw"] for o in options["data"]["offers"]} == {"40", "60"}
        recommendation = console.expect("recommendation")["data"]
        assert {s["aggregator_id"] for s in recommendation["selections"]} == set(grid.bpps)
        assert recommendation["partial"] is False

        assert console.command("yes, proceed")["data"]["ok"]
        active: set[str] = set()
        while active != set(grid.bpps):
            frame = console.expect("progress", lambda f: f["data"]["state"] == "ACTIVE")
            active.add(frame["data"]["aggregator_id"])

        answer = console.command("status")
        assert answer["data"]["ok"]
        for _ in grid.bpps:
            console.expect("progress", lambda f: f["data"]["fulfillment_state"] is not None)

        event = api.get(f"/api/flex-requests/{recommendation['event_id']}").json()
        assert event["state"] == "ACTIVE"
        for order in event["orders"]:
            assert order["state"] == "ACTIVE" and order["bpp_order_id"]
            detail = api.get(f"/api/orders/{order['id']}").json()
            actions = [entry["action"] for entry in detail["timeline"]]
            assert actions[:6] == ["select", "on_select", "init", "on_init", "confirm", "on_confirm"]
        for name, admin in grid.admin.items():
            orders = admin.get("/api/orders")
            assert len(orders) == 1, (name, orders)
        assert_everything_sent_conforms(grid.bap)


def test_an_aggregator_that_nacks_is_replaced_by_the_next_best_offer(grid: Grid) -> None:
    with ExitStack() as stack:
        api = grid.api(stack)
        console = stack.enter_context(Console.open(grid.bap.url, OPERATOR_TOKEN))
        console.next()
        assert api.post("/api/grid-alerts", json=grid_alert(peak_kw=480)).status_code == 202
        recommendation = console.expect("recommendation")["data"]
        assert [s["aggregator_id"] for s in recommendation["selections"]] == ["alpha.aggregator"]

        withdrawn = grid.admin["alpha.aggregator"].client.delete(f"/api/offers/{NODE}/REDUCE")
        assert withdrawn.status_code == 204, withdrawn.text
        assert console.command("yes")["data"]["ok"]

        nack = console.expect("alert", lambda f: f["data"]["kind"] == "aggregator_nack")
        assert nack["data"]["aggregator_id"] == "alpha.aggregator"
        fallback = console.expect("alert", lambda f: f["data"]["kind"] == "fallback")
        assert "beta.aggregator" in fallback["data"]["message"]
        console.expect(
            "progress",
            lambda f: f["data"]["aggregator_id"] == "beta.aggregator" and f["data"]["state"] == "ACTIVE",
        )

        event = api.get(f"/api/flex-requests/{recommendation['event_id']}").json()
        assert event["state"] == "ACTIVE"
        states = {order["aggregator_id"]: order["state"] for order in event["orders"]}
        assert states == {"alpha.aggregator": "FAILED", "beta.aggregator": "ACTIVE"}
        kinds = {alert["kind"] for alert in api.get("/api/alerts").json()}
        assert {"aggregator_nack", "fallback"} <= kinds
        assert_everything_sent_conforms(grid.bap)
