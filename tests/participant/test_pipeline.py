"""The inbound pipeline over real HTTP, against keys in a real registry: one test per rule it enforces.

Every rejection is checked for its HTTP status, NACK code, `WWW-Authenticate` where it applies, a row in
the message log with the verdict, and that no handler saw the message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from participant.messagelog import MessageRecord, ProcessingState
from participant.role import Role
from registry_client.keys import Identity, generate_identity
from schemas.core_v1 import Action, format_timestamp
from tests.support.conformance import assert_ack_conforms
from tests.support.network import (
    Member,
    callback_body,
    inbound,
    new_member,
    now,
    register,
    registry_server,
    request_body,
    set_status,
    signed_headers,
)
from tests.support.peer import PeerRecorder, build_peer_app
from tests.support.servers import ThreadedServer, wait_until

MAX_BODY = 16_384
CHALLENGE = 'Signature realm="{}",headers="(created) (expires) digest"'


@dataclass
class Network:
    bap: Member
    bpp: Member
    bap_recorder: PeerRecorder
    bpp_recorder: PeerRecorder
    stranger: Identity
    revoked: Identity
    other_bap: Identity
    gateway: Identity


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    directory: Path = tmp_path_factory.mktemp("pipeline")
    bap, bpp = new_member(directory, "utility.bap"), new_member(directory, "aggregator.bpp")
    stranger, revoked = generate_identity("stranger.bap"), generate_identity("revoked.bap")
    other_bap, gateway = generate_identity("other.bap"), generate_identity("gateway.bg")
    with registry_server(directory) as registry:
        register(registry.url, bap.identity, type="BAP", url=bap.url)
        register(registry.url, bpp.identity, type="BPP", url=bpp.url)
        register(registry.url, revoked, type="BAP", url="http://127.0.0.1:9")
        set_status(registry.url, revoked, "UNSUBSCRIBED")
        register(registry.url, other_bap, type="BAP", url="http://127.0.0.1:9")
        register(registry.url, gateway, type="BG", url="http://127.0.0.1:9")
        bap_recorder, bpp_recorder = PeerRecorder(), PeerRecorder()
        bap_app = build_peer_app(bap.settings(registry.url), Role.BAP, recorder=bap_recorder)
        bpp_settings = bpp.settings(registry.url, max_body_bytes=MAX_BODY)
        bpp_app = build_peer_app(bpp_settings, Role.BPP, recorder=bpp_recorder)
        with ThreadedServer(bap_app, port=bap.port), ThreadedServer(bpp_app, port=bpp.port):
            yield Network(bap, bpp, bap_recorder, bpp_recorder, stranger, revoked, other_bap, gateway)


def post(member: Member, action: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{member.url}/{action}", content=body, headers=headers)


def assert_nack(
    response: httpx.Response, status: int, code: str, *, realm: str | None = None, paths: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    reply = response.json()
    assert_ack_conforms(reply)
    assert reply["message"]["ack"]["status"] == "NACK"
    assert reply["error"]["code"] == code
    if paths is not None:
        assert reply["error"]["paths"] == paths
    if realm is not None:
        assert response.headers["www-authenticate"] == CHALLENGE.format(realm)
    else:
        assert "www-authenticate" not in response.headers
    error: dict[str, Any] = reply["error"]
    return error


def logged(member: Member, body: bytes) -> MessageRecord:
    (record,) = inbound(member.database_url, body=body)
    return record


def assert_rejected_in_log(record: MessageRecord, status: int, code: str, verdict: str | None) -> None:
    assert (record.http_status, record.ack_status, record.error_code) == (status, "NACK", code)
    assert record.signature_verdict == verdict
    assert record.dedupe_key is None and record.processing_state is None


def message_id(body: bytes) -> str:
    value: str = json.loads(body)["context"]["message_id"]
    return value


def assert_not_handled(recorder: PeerRecorder, body: bytes) -> None:
    assert recorder.accepted(message_id(body)) == []
    assert all(entry.message_id != message_id(body) for entry in recorder.processed())


# -- accepted ---------------------------------------------------------------------------------------


def test_a_signed_valid_request_is_acked_logged_and_processed(net: Network) -> None:
    body = request_body(Action.SEARCH, bap=net.bap)
    response = post(net.bpp, "search", body, signed_headers(body, net.bap.identity))

    assert (response.status_code, response.json()) == (200, {"message": {"ack": {"status": "ACK"}}})
    assert_ack_conforms(response.json())
    (accepted,) = net.bpp_recorder.accepted(message_id(body))
    assert accepted.sender == net.bap.subscriber_id
    wait_until(lambda: logged(net.bpp, body).processing_state is ProcessingState.DONE, what="processing")
    record = logged(net.bpp, body)
    assert (record.signature_verdict, record.http_status, record.ack_status) == ("valid", 200, "ACK")
    assert record.dedupe_key == f"{net.bap.subscriber_id}|{message_id(body)}"


def test_a_protocol_server_signature_window_is_accepted(net: Network) -> None:
    """protocol-server signs with created = now − 60 s and expires = created + 1 h."""
    body = request_body(Action.SEARCH, bap=net.bap)
    created = now() - 60
    headers = signed_headers(body, net.bap.identity, created=created, expires=created + 3600)

    assert post(net.bpp, "search", body, headers).status_code == 200
    assert len(net.bpp_recorder.accepted(message_id(body))) == 1


def test_a_search_forwarded_by_a_gateway_is_accepted_with_the_gateway_known(net: Network) -> None:
    body = request_body(Action.SEARCH, bap=net.bap)
    headers = signed_headers(body, net.bap.identity, gateway=net.gateway)

    assert post(net.bpp, "search", body, headers).status_code == 200
    (accepted,) = net.bpp_recorder.accepted(message_id(body))
    assert (accepted.sender, accepted.gateway) == (net.bap.subscriber_id, net.gateway.subscriber_id)


def test_a_callback_to_the_bap_is_accepted(net: Network) -> None:
    body = callback_body(Action.ON_SELECT, bap=net.bap, bpp=net.bpp)

    assert post(net.bap, "on_select", body, signed_headers(body, net.bpp.identity)).status_code == 200
    (accepted,) = net.bap_recorder.accepted(message_id(body))
    assert accepted.sender == net.bpp.subscriber_id


# -- signature (BECKN-006) --------------------------------------------------------------------------


def test_a_tampered_body_is_refused(net: Network) -> None:
    body = request_body(Action.SEARCH, bap=net.bap)
    headers = signed_headers(body, net.bap.identity)
    tampered = body.replace(b'"demand flexibility"', b'"demand flexibility!"')
    assert tampered != body

    error = assert_nack(post(net.bpp, "search", tampered, headers), 401, "30016", realm=net.bpp.subscriber_id)
    assert error["message"].startswith("bad signature")
    assert_rejected_in_log(logged(net.bpp, tampered), 401, "30016", "bad signature")
    assert_not_handled(net.bpp_recorder, tampered)


@pytest.mark.parametrize(
    ("created", "expires", "verdict"),
    [(-400, -100, "expired"), (60, 360, "not yet valid")],
    ids=["expired", "created-in-the-future"],
)
def test_a_signature_outside_its_validity_window_is_refused(
    net: Network, created: int, expires: int, verdict: str
) -> None:
    body = request_body(Action.SEARCH, bap=net.bap)
    headers = signed_headers(body, net.bap.identity, created=now() + created, expires=now() + expires)

    error = assert_nack(post(net.bpp, "search", body, headers), 401, "30016", realm=net.bpp.subscriber_id)
    assert error["message"].startswith(verdict)
    assert_rejected_in_log(logged(net.bpp, body), 401, "30016", verdict)
    assert_not_handled(net.bpp_recorder, body)


def test_a_key_the_registry_does_not_know_is_refused(net: Network) -> None:
    body = request_body(Action.SEARCH, bap=net.bap, bap_id=net.stranger.subscriber_id)

    response = post(net.bpp, "search", body, signed_headers(body, net.stranger))
    assert_nack(response, 401, "30016", realm=net.bpp.subscriber_id)
    record = logged(net.bpp, body)
    assert_rejected_in_log(record, 401, "30016", "unknown key")
    assert record.counterparty == net.stranger.subscriber_id  # who it claimed to be
    assert_not_handled(net.bpp_recorder, body)


def test_a_key_no_longer_subscribed_is_refused(net: Network) -> None:
    body = request_body(Action.SEARCH, bap=net.bap, bap_id=net.revoked.subscriber_id)

    error = assert_nack(
        post(net.bpp, "search", body, signed_headers(body, net.revoked)),
        401,
        "30016",
        realm=net.bpp.subscriber_id,
    )
    assert "UNSUBSCRIBED" in error["message"]
    assert_rejected_in_log(logged(net.bpp, body), 401, "30016", "key not subscribed")
    assert_not_handled(net.bpp_recorder, body)


def test_a_request_signed_by_someone_other_than_its_bap_is_refused(net: Network) -> None:
    body = request_body(Action.SEARCH, bap=net.bap)  # context.bap_id is utility.bap

    response = post(net.bpp, "search", body, signed_headers(body, net.other_bap))
    assert_nack(response, 401, "30016", realm=net.bpp.subscriber_id)
    assert_rejected_in_log(logged(net.bpp, body), 401, "30016", "signer mismatch")
    assert_not_handled(net.bpp_recorder, body)


def test_a_callback_signed_by_someone_other_than_its_bpp_is_refused(net: Network) -> None:
    body = callback_body(Action.ON_SEARCH, bap=net.bap, bpp=net.bpp)

    response = post(net.bap, "on_search", body, signed_headers(body, net.other_bap))
    assert_nack(response, 401, "20001", realm=net.bap.subscriber_id)
    assert_rejected_in_log(logged(net.bap, body), 401, "20001", "signer mismatch")
    assert_not_handled(net.bap_recorder, body)


def test_a_request_without_authorization_is_refused(net: Network) -> None:
    body = request_body(Action.SEARCH, bap=net.bap)

    response = post(net.bpp, "search", body, {"Content-Type": "application/json"})
    error = assert_nack(response, 401, "30016", realm=net.bpp.subscriber_id)
    assert error["message"].startswith("missing signature")
    assert_rejected_in_log(logged(net.bpp, body), 401, "30016", "missing signature")
    assert_not_handled(net.bpp_recorder, body)


def test_a_gateway_header_signed_by_a_non_gateway_is_refused(net: Network) -> None:
    body = request_body(Action.SEARCH, bap=net.bap)
    headers = signed_headers(body, net.bap.identity, gateway=net.other_bap)

    assert_nack(post(net.bpp, "search", body, headers), 401, "30016", realm=net.bpp.subscriber_id)
    assert_rejected_in_log(logged(net.bpp, body), 401, "30016", "not a gateway")
    assert_not_handled(net.bpp_recorder, body)


# -- transport, JSON and schema ---------------------------------------------------------------------


def test_a_body_over_the_size_limit_is_refused_before_anything_else(net: Network) -> None:
    body = request_body(
        Action.SEARCH, bap=net.bap, message={"intent": {"descriptor": {"name": "x" * MAX_BODY}}}
    )

    response = post(net.bpp, "search", body, signed_headers(body, net.bap.identity))
    assert_nack(response, 413, "30000")
    (record,) = inbound(net.bpp.database_url, http_status=413)
    assert_rejected_in_log(record, 413, "30000", None)
    assert record.body == b""
    assert_not_handled(net.bpp_recorder, body)


def test_a_body_that_is_not_json_content_is_refused(net: Network) -> None:
    body = request_body(Action.SEARCH, bap=net.bap)
    headers = {**signed_headers(body, net.bap.identity), "Content-Type": "text/plain"}

    assert_nack(post(net.bpp, "search", body, headers), 415, "30000")
    assert_rejected_in_log(logged(net.bpp, body), 415, "30000", None)
    assert_not_handled(net.bpp_recorder, body)


def test_malformed_json_is_refused_after_the_signature_check(net: Network) -> None:
    body = b'{"context": {"action": "search", '

    response = post(net.bpp, "search", body, signed_headers(body, net.bap.identity))
    error = assert_nack(response, 400, "30000")
    assert error["message"].startswith("the body is not JSON")
    record = logged(net.bpp, body)
    assert_rejected_in_log(record, 400, "30000", "valid")
    assert record.counterparty == net.bap.subscriber_id and record.message_id is None


def test_a_body_that_breaks_the_schema_is_refused_with_its_paths(net: Network) -> None:
    body = request_body(Action.SELECT, bap=net.bap, bpp=net.bpp, message={"order": {"items": "not a list"}})

    response = post(net.bpp, "select", body, signed_headers(body, net.bap.identity))
    assert_nack(response, 400, "30000", paths="message.order.items")
    assert_rejected_in_log(logged(net.bpp, body), 400, "30000", "valid")
    assert_not_handled(net.bpp_recorder, body)


def test_a_body_for_another_action_is_refused(net: Network) -> None:
    body = request_body(Action.SEARCH, bap=net.bap)

    response = post(net.bpp, "select", body, signed_headers(body, net.bap.identity))
    assert_nack(response, 400, "30000", paths="context.action")
    assert_rejected_in_log(logged(net.bpp, body), 400, "30000", "valid")
    assert_not_handled(net.bpp_recorder, body)


# -- context ----------------------------------------------------------------------------------------

IN_FIVE_MINUTES = object()


@pytest.mark.parametrize(
    ("context", "paths"),
    [
        ({"domain": "mobility:taxi"}, "context.domain"),
        ({"version": "2.0.0"}, "context.version"),
        ({"bpp_id": "someone-else.bpp"}, "context.bpp_id"),
        ({"timestamp": IN_FIVE_MINUTES}, "context.timestamp"),
        ({"message_id": "m" * 256}, "context.message_id"),
    ],
    ids=[
        "unsupported-domain",
        "unsupported-version",
        "addressed-to-another-bpp",
        "timestamp-in-the-future",
        "id-too-long-to-store",
    ],
)
def test_a_context_this_bpp_does_not_serve_is_refused(
    net: Network, context: dict[str, Any], paths: str
) -> None:
    if context.get("timestamp") is IN_FIVE_MINUTES:  # computed now, not when the tests were collected
        context = {"timestamp": format_timestamp(datetime.now(UTC) + timedelta(minutes=5))}
    body = request_body(Action.SEARCH, bap=net.bap, **context)

    assert_nack(
        post(net.bpp, "search", body, signed_headers(body, net.bap.identity)), 400, "30000", paths=paths
    )
    assert_rejected_in_log(logged(net.bpp, body), 400, "30000", "valid")
    assert_not_handled(net.bpp_recorder, body)


def test_a_message_past_its_ttl_is_stale(net: Network) -> None:
    sent_at = format_timestamp(datetime.now(UTC) - timedelta(seconds=60))
    body = request_body(Action.SEARCH, bap=net.bap, timestamp=sent_at, ttl=timedelta(seconds=30))

    response = post(net.bpp, "search", body, signed_headers(body, net.bap.identity))
    assert_nack(response, 400, "30022", paths="context.ttl")
    assert_rejected_in_log(logged(net.bpp, body), 400, "30022", "valid")
    assert_not_handled(net.bpp_recorder, body)


def test_a_callback_addressed_to_another_bap_is_refused(net: Network) -> None:
    body = callback_body(Action.ON_SEARCH, bap=net.bap, bpp=net.bpp, bap_id="someone-else.bap")

    response = post(net.bap, "on_search", body, signed_headers(body, net.bpp.identity))
    assert_nack(response, 400, "20006", paths="context.bap_id")
    assert_rejected_in_log(logged(net.bap, body), 400, "20006", "valid")
    assert_not_handled(net.bap_recorder, body)


# -- dedupe and not-applicable actions --------------------------------------------------------------


def test_a_replayed_message_id_is_refused_and_handled_once(net: Network) -> None:
    body = request_body(Action.SEARCH, bap=net.bap)
    headers = signed_headers(body, net.bap.identity)
    assert post(net.bpp, "search", body, headers).status_code == 200

    error = assert_nack(post(net.bpp, "search", body, headers), 409, "30022", paths="context.message_id")
    assert "already received" in error["message"]
    first, replay = inbound(net.bpp.database_url, message_id=message_id(body))
    assert first.ack_status == "ACK"
    assert_rejected_in_log(replay, 409, "30022", "valid")
    assert len(net.bpp_recorder.accepted(message_id(body))) == 1


@pytest.mark.parametrize("action", [Action.TRACK, Action.RATING, Action.SUPPORT])
def test_track_rating_and_support_are_not_applicable(net: Network, action: Action) -> None:
    body = request_body(action, bap=net.bap, bpp=net.bpp, message={})

    response = post(net.bpp, action.value, body, signed_headers(body, net.bap.identity))
    assert_nack(response, 400, "40001")
    assert_rejected_in_log(logged(net.bpp, body), 400, "40001", "valid")
    assert_not_handled(net.bpp_recorder, body)


def test_not_applicable_actions_still_need_a_valid_signature(net: Network) -> None:
    body = request_body(Action.TRACK, bap=net.bap, bpp=net.bpp, message={})

    response = post(net.bpp, "track", body, signed_headers(body, net.stranger))
    assert_nack(response, 401, "30016", realm=net.bpp.subscriber_id)


def test_the_bap_answers_callbacks_of_not_applicable_actions_with_40001(net: Network) -> None:
    body = callback_body(Action.ON_TRACK, bap=net.bap, bpp=net.bpp)

    assert_nack(post(net.bap, "on_track", body, signed_headers(body, net.bpp.identity)), 400, "40001")


def test_a_bpp_has_no_callback_endpoints_and_a_bap_no_request_endpoints(net: Network) -> None:
    body = request_body(Action.SEARCH, bap=net.bap)
    assert post(net.bpp, "on_search", body, signed_headers(body, net.bap.identity)).status_code == 404
    assert post(net.bap, "search", body, signed_headers(body, net.bap.identity)).status_code == 404
