"""Replicas of one participant on one database, over real HTTP: each keeps its own memory of recent
messages, so whichever replica accepted a message, the others must still refuse it (the database decides).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from participant.app import ParticipantRuntime, Role, create_participant_app
from participant.inbound import ActionHandler, BaseActionHandler, InboundMessage
from schemas.core_v1 import Action
from tests.support.network import Member, inbound, new_member, register, registry_server, request_body
from tests.support.network import signed_headers as sign
from tests.support.peer import PeerRecorder
from tests.support.servers import ThreadedServer, free_port


class Accepting(BaseActionHandler):
    def __init__(self, recorder: PeerRecorder) -> None:
        self.recorder = recorder

    async def accept(self, session: AsyncSession, message: InboundMessage) -> None:
        self.recorder.note_accepted(message)


def replica_app(member: Member, registry_url: str, recorder: PeerRecorder) -> ThreadedServer:
    def handlers(runtime: ParticipantRuntime) -> Mapping[Action, ActionHandler]:
        return {Action.SEARCH: Accepting(recorder)}

    app = create_participant_app(member.settings(registry_url), role=Role.BPP, handlers=handlers)
    return ThreadedServer(app, port=member.port)


def replica_of(member: Member) -> Member:
    """The same participant (identity, database) served from another port."""
    return Member(member.identity, free_port(), member.database_url)


@dataclass
class Network:
    directory: Path
    registry_url: str
    bap: Member
    bpp: Member
    first: str
    second: str
    recorder: PeerRecorder


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    directory: Path = tmp_path_factory.mktemp("replicas")
    bap, bpp = new_member(directory, "utility.bap"), new_member(directory, "aggregator.bpp")
    other = replica_of(bpp)
    recorder = PeerRecorder()
    with registry_server(directory) as registry:
        register(registry.url, bap.identity, type="BAP", url=bap.url)
        register(registry.url, bpp.identity, type="BPP", url=bpp.url)
        with replica_app(bpp, registry.url, recorder), replica_app(other, registry.url, recorder):
            yield Network(directory, registry.url, bap, bpp, bpp.url, other.url, recorder)


def search(net: Network) -> bytes:
    return request_body(Action.SEARCH, bap=net.bap)


def post(url: str, body: bytes, net: Network) -> httpx.Response:
    return httpx.post(f"{url}/search", content=body, headers=sign(body, net.bap.identity))


def message_id(body: bytes) -> str:
    value: str = json.loads(body)["context"]["message_id"]
    return value


def assert_duplicate(response: httpx.Response) -> None:
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "30022"
    assert response.json()["error"]["paths"] == "context.message_id"


def test_each_replica_refuses_what_the_other_accepted(net: Network) -> None:
    one, two = search(net), search(net)

    assert post(net.first, one, net).status_code == 200
    assert_duplicate(post(net.second, one, net))  # not in its memory: the database refuses it
    assert_duplicate(post(net.first, one, net))  # in its memory

    assert post(net.second, two, net).status_code == 200
    assert_duplicate(post(net.first, two, net))

    for body, refusals in ((one, 2), (two, 1)):
        assert len(net.recorder.accepted(message_id(body))) == 1
        records = inbound(net.bpp.database_url, message_id=message_id(body))
        assert sorted(record.ack_status or "" for record in records) == ["ACK"] + ["NACK"] * refusals


def test_copies_sent_to_both_replicas_at_once_are_accepted_once(net: Network) -> None:
    bodies = [search(net) for _ in range(5)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for body in bodies:
            copies = [pool.submit(post, url, body, net) for url in (net.first, net.second)]
            assert sorted(copy.result().status_code for copy in copies) == [200, 409]

    for body in bodies:
        assert len(net.recorder.accepted(message_id(body))) == 1


def test_a_restarted_replica_still_refuses_what_it_accepted_before(net: Network) -> None:
    member = new_member(net.directory, "restarted.bpp")
    register(net.registry_url, member.identity, type="BPP", url=member.url)
    recorder = PeerRecorder()
    body = search(net)

    with replica_app(member, net.registry_url, recorder):
        assert post(member.url, body, net).status_code == 200
    with replica_app(member, net.registry_url, recorder):  # a new instance: its memory is empty
        assert_duplicate(post(member.url, body, net))

    assert len(recorder.accepted(message_id(body))) == 1
