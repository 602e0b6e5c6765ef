"""The generic Beckn client: any request in any domain, signed and sent; its callbacks listed in order."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from participant.role import Role
from tests.bap.conftest import UtilityNetwork
from tests.support.conformance import assert_conforms
from tests.support.network import inbound, new_member, outbound, register
from tests.support.peer import PeerRecorder, build_peer_app
from tests.support.servers import ThreadedServer, wait_until

RETAIL = "deg:retail"


def test_a_retail_transaction_end_to_end(network_factory: Callable[..., UtilityNetwork]) -> None:
    network = network_factory({})
    shop = new_member(network.directory, "solar.shop")
    register(network.registry_url, shop.identity, type="BPP", url=shop.url, domain=RETAIL)
    recorder = PeerRecorder()
    app = build_peer_app(shop.settings(network.registry_url, domain=RETAIL), Role.BPP, recorder=recorder)
    api = network.api()
    with ThreadedServer(app, port=shop.port):
        searched = api.post(
            "/api/beckn/search",
            json={
                "context": {"domain": RETAIL},
                "message": {"intent": {"descriptor": {"name": "solar panels"}}},
            },
        )
        assert searched.status_code == 202, searched.text
        sent = searched.json()
        assert sent["targets"] == [f"{shop.url}/search"] and sent["domain"] == RETAIL
        transaction_id = sent["transaction_id"]

        def callbacks() -> list[str]:
            log = api.get(f"/api/beckn/transactions/{transaction_id}").json()
            return [callback["action"] for callback in log["callbacks"]]

        wait_until(lambda: callbacks() == ["on_search"], what="on_search")
        selected = api.post(
            "/api/beckn/select",
            json={
                "context": {
                    "domain": RETAIL,
                    "transaction_id": transaction_id,
                    "bpp_id": shop.subscriber_id,
                    "bpp_uri": shop.url,
                },
                "message": {"order": {"provider": {"id": "provider-1"}, "items": [{"id": "item-1"}]}},
            },
        )
        assert selected.status_code == 202, selected.text

        wait_until(lambda: callbacks() == ["on_search", "on_select"], what="on_select after on_search")
        log = api.get(f"/api/beckn/transactions/{transaction_id}").json()
        assert log["domain"] == RETAIL
        assert [entry["action"] for entry in log["sent"]] == ["search", "select"]
        assert log["callbacks"][0]["body"]["context"]["domain"] == RETAIL
        assert log["callbacks"][1]["message_id"] == selected.json()["message_id"]
    for record in outbound(network.bap.database_url):
        assert_conforms(json.loads(record.body))


def test_a_foreign_domain_callback_we_did_not_ask_for_is_refused(
    network_factory: Callable[..., UtilityNetwork],
) -> None:
    network = network_factory({})
    shop = new_member(network.directory, "solar.shop")
    register(network.registry_url, shop.identity, type="BPP", url=shop.url, domain=RETAIL)
    app = build_peer_app(shop.settings(network.registry_url, domain=RETAIL), Role.BPP)
    with ThreadedServer(app, port=shop.port):
        pushed = httpx.post(
            f"{shop.url}/test/send",
            json={"action": "on_status", "bap_id": network.bap.subscriber_id, "bap_uri": network.bap.url},
        )
        assert pushed.status_code == 200
        wait_until(
            lambda: inbound(network.bap.database_url, action="on_status"), what="the refused on_status"
        )
    (record,) = inbound(network.bap.database_url, action="on_status")
    assert (record.ack_status, record.error_code) == ("NACK", "20006")
    assert "domain 'deg:retail' is not served here" in (record.error_message or "")


def test_requests_the_client_refuses(network_factory: Callable[..., UtilityNetwork]) -> None:
    api = network_factory({}).api()
    assert api.post("/api/beckn/on_search", json={"message": {}}).status_code == 422
    assert api.post("/api/beckn/teleport", json={"message": {}}).status_code == 404
    no_target = api.post("/api/beckn/select", json={"message": {"order": {"items": [{"id": "x"}]}}})
    assert no_target.status_code == 422 and "bpp_uri" in no_target.json()["detail"]
    invalid = api.post(
        "/api/beckn/status", json={"context": {"bpp_uri": "http://127.0.0.1:9"}, "message": {}}
    )
    assert invalid.status_code == 422 and "refusing to send" in invalid.json()["detail"]
    assert api.get("/api/beckn/transactions/nothing-here").status_code == 404
