"""What the pipeline does with the role's handlers: `accept` in the transaction, `process` after the ACK."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from participant.app import ParticipantRuntime, Role, create_participant_app
from participant.errors import BecknNack
from participant.inbound import ActionHandler, BaseActionHandler, InboundMessage
from participant.messagelog import ProcessingState
from schemas.core_v1 import Action
from schemas.errors import ErrorCode
from tests.support.conformance import assert_ack_conforms
from tests.support.network import (
    Member,
    inbound,
    new_member,
    outbox,
    register,
    registry_server,
    request_body,
    signed_headers,
)
from tests.support.peer import minimal_message
from tests.support.servers import ThreadedServer, free_port, wait_until


class RefuseSelect(BaseActionHandler):
    """Writes a callback to the outbox, then refuses: the refusal must roll the write back."""

    def __init__(self, runtime: ParticipantRuntime) -> None:
        self.runtime = runtime

    async def accept(self, session: AsyncSession, message: InboundMessage) -> None:
        sender = self.runtime.sender
        await sender.send(
            session,
            action=Action.ON_SELECT,
            context=sender.reply_context(message.context),
            message=minimal_message(Action.ON_SELECT),
        )
        raise BecknNack(ErrorCode.ITEM_NOT_FOUND, "no such offer", paths="message.order.items[0].id")


class BrokenAccept(BaseActionHandler):
    async def accept(self, session: AsyncSession, message: InboundMessage) -> None:
        raise ValueError("a bug in accept")


class BrokenProcess(BaseActionHandler):
    async def process(self, message: InboundMessage) -> None:
        raise RuntimeError("a bug in process")


def handlers(runtime: ParticipantRuntime) -> Mapping[Action, ActionHandler]:
    return {
        Action.SELECT: RefuseSelect(runtime),
        Action.INIT: BrokenAccept(),
        Action.CONFIRM: BrokenProcess(),
    }


@dataclass
class Network:
    bap: Member
    bpp: Member


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    directory: Path = tmp_path_factory.mktemp("handlers")
    bap, bpp = new_member(directory, "utility.bap"), new_member(directory, "aggregator.bpp")
    with registry_server(directory) as registry:
        register(registry.url, bap.identity, type="BAP", url=bap.url)
        register(registry.url, bpp.identity, type="BPP", url=bpp.url)
        app = create_participant_app(bpp.settings(registry.url), role=Role.BPP, handlers=handlers)
        with ThreadedServer(app, port=bpp.port):
            yield Network(bap, bpp)


def send(net: Network, action: Action) -> tuple[bytes, httpx.Response]:
    body = request_body(action, bap=net.bap, bpp=net.bpp)
    response = httpx.post(
        f"{net.bpp.url}/{action}", content=body, headers=signed_headers(body, net.bap.identity)
    )
    assert_ack_conforms(response.json())
    return body, response


def test_a_nack_from_accept_is_answered_with_its_code_and_rolls_its_writes_back(net: Network) -> None:
    body, response = send(net, Action.SELECT)

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "30004",
        "paths": "message.order.items[0].id",
        "message": "no such offer",
    }
    (record,) = inbound(net.bpp.database_url, body=body)
    assert (record.ack_status, record.error_code, record.dedupe_key) == ("NACK", "30004", None)
    assert outbox(net.bpp.database_url) == []


def test_a_failing_accept_is_a_retryable_nack_not_a_traceback(net: Network) -> None:
    body, response = send(net, Action.INIT)

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "30000"
    assert "Traceback" not in response.text and "a bug in accept" not in response.text
    (record,) = inbound(net.bpp.database_url, body=body)
    assert (record.http_status, record.dedupe_key) == (503, None)


def test_a_failing_process_is_stored_as_failed_and_the_participant_carries_on(net: Network) -> None:
    body, response = send(net, Action.CONFIRM)

    assert response.status_code == 200
    wait_until(
        lambda: inbound(net.bpp.database_url, body=body)[0].processing_state is ProcessingState.FAILED,
        what="the failure to be stored",
    )
    (record,) = inbound(net.bpp.database_url, body=body)
    assert record.processing_error == "RuntimeError: a bug in process"
    assert send(net, Action.CONFIRM)[1].status_code == 200


def test_an_implemented_action_without_a_handler_is_not_applicable(net: Network) -> None:
    _, response = send(net, Action.STATUS)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "40001"


def test_an_unreachable_registry_is_a_retryable_nack(tmp_path: Path) -> None:
    bap, bpp = new_member(tmp_path, "utility.bap"), new_member(tmp_path, "aggregator.bpp")
    nowhere = f"http://127.0.0.1:{free_port()}"
    app = create_participant_app(bpp.settings(nowhere), role=Role.BPP, handlers=handlers)
    body = request_body(Action.SELECT, bap=bap, bpp=bpp)

    with ThreadedServer(app, port=bpp.port):
        response = httpx.post(f"{bpp.url}/select", content=body, headers=signed_headers(body, bap.identity))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "30016"
    assert "registry unavailable" in response.json()["error"]["message"]
    (record,) = inbound(bpp.database_url, body=body)
    assert record.signature_verdict == "registry unavailable"
