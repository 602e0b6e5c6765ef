"""A BAP and a BPP on real ports, keys from a real `degflex registry` process: every message signed,
verified, logged, answered through the outbox, and valid against the official Beckn spec."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from participant.messagelog import ProcessingState
from participant.role import Role
from schemas.core_v1 import IMPLEMENTED_ACTIONS, Action
from tests.support.conformance import assert_conforms
from tests.support.databases import sqlite_url
from tests.support.network import ADMIN_TOKEN, Member, all_delivered, inbound, new_member, outbound, register
from tests.support.peer import PeerRecorder, build_peer_app
from tests.support.servers import ProcessServer, ThreadedServer, free_port, python_module, wait_until

pytestmark = pytest.mark.slow


@dataclass
class Network:
    bap: Member
    bpp: Member
    bap_recorder: PeerRecorder
    bpp_recorder: PeerRecorder


@pytest.fixture
def network(tmp_path: Path) -> Iterator[Network]:
    registry_port = free_port()
    registry = ProcessServer(
        python_module(
            "participant.cli",
            "registry",
            "--port",
            str(registry_port),
            "--database-url",
            sqlite_url(tmp_path, "registry"),
            "--admin-token",
            ADMIN_TOKEN,
            "--no-challenge",
        ),
        url=f"http://127.0.0.1:{registry_port}",
        log_path=tmp_path / "registry.log",
    )
    bap, bpp = new_member(tmp_path, "utility.bap"), new_member(tmp_path, "aggregator.bpp")
    bap_recorder, bpp_recorder = PeerRecorder(), PeerRecorder()
    with registry:
        register(registry.url, bap.identity, type="BAP", url=bap.url)
        register(registry.url, bpp.identity, type="BPP", url=bpp.url)
        bap_app = build_peer_app(bap.settings(registry.url), Role.BAP, recorder=bap_recorder)
        bpp_app = build_peer_app(bpp.settings(registry.url), Role.BPP, recorder=bpp_recorder)
        with (
            ThreadedServer(bap_app, port=bap.port),
            ThreadedServer(bpp_app, port=bpp.port),
        ):
            yield Network(bap, bpp, bap_recorder, bpp_recorder)


def test_search_without_bpp_reaches_every_registered_bpp_and_on_search_comes_back(network: Network) -> None:
    bap, bpp = network.bap, network.bpp
    sent = httpx.post(f"{bap.url}/test/send", json={"action": "search"}).json()["sent"]
    assert [item["to"] for item in sent] == [f"{bpp.url}/search"]
    message_id = sent[0]["message_id"]

    wait_until(lambda: network.bap_recorder.processed("on_search"), what="on_search at the BAP")

    (search,) = network.bpp_recorder.processed("search")
    assert (search.sender, search.message_id) == (bap.subscriber_id, message_id)
    (on_search,) = network.bap_recorder.processed("on_search")
    assert (on_search.sender, on_search.message_id) == (bpp.subscriber_id, message_id)
    assert on_search.transaction_id == search.transaction_id

    wait_until(
        lambda: all(r.processing_state is ProcessingState.DONE for r in inbound(bap.database_url)),
        what="the BAP's inbox to finish",
    )
    (record,) = inbound(bap.database_url, action="on_search")
    assert (record.signature_verdict, record.http_status, record.ack_status) == ("valid", 200, "ACK")
    assert record.headers["authorization"].startswith('Signature keyId="aggregator.bpp|')
    wait_until(lambda: all_delivered(bpp.database_url), what="the BPP's outbox to drain")


def test_every_implemented_request_gets_its_callback(network: Network) -> None:
    bap, bpp = network.bap, network.bpp
    requests = sorted(IMPLEMENTED_ACTIONS - {Action.SEARCH})
    for action in requests:
        response = httpx.post(
            f"{bap.url}/test/send",
            json={"action": action.value, "bpp_id": bpp.subscriber_id, "bpp_uri": bpp.url},
        )
        assert response.status_code == 200, response.text

    callbacks = {action.callback.value for action in requests}
    wait_until(
        lambda: {entry.action for entry in network.bap_recorder.processed()} == callbacks,
        what=f"callbacks {sorted(callbacks)}",
    )
    wait_until(lambda: all_delivered(bap.database_url) and all_delivered(bpp.database_url), what="outboxes")


def test_every_body_sent_conforms_to_the_beckn_spec(network: Network) -> None:
    bap, bpp = network.bap, network.bpp
    httpx.post(f"{bap.url}/test/send", json={"action": "search"})
    for action in sorted(IMPLEMENTED_ACTIONS - {Action.SEARCH}):
        httpx.post(
            f"{bap.url}/test/send",
            json={"action": action.value, "bpp_id": bpp.subscriber_id, "bpp_uri": bpp.url},
        )
    wait_until(
        lambda: len(network.bap_recorder.processed()) == len(IMPLEMENTED_ACTIONS), what="all callbacks"
    )

    sent = outbound(bap.database_url) + outbound(bpp.database_url)
    assert {record.action for record in sent} == {a.value for a in IMPLEMENTED_ACTIONS} | {
        a.callback.value for a in IMPLEMENTED_ACTIONS
    }
    for record in sent:
        assert_conforms(json.loads(record.body))
