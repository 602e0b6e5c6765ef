"""The synchronous reply: our ACK / NACK bodies conform, and peers' replies are read liberally."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from schemas.core_v1 import AckResponse, Action, parse_envelope, validation_paths
from schemas.errors import ErrorCode
from tests.schemas.factories import request_context
from tests.support.conformance import ack_validator, assert_ack_conforms


def test_ack_body_is_the_minimal_spec_reply() -> None:
    body = AckResponse.ack().dump()
    assert body == {"message": {"ack": {"status": "ACK"}}}
    assert_ack_conforms(body)


def test_nack_body_carries_code_paths_and_message() -> None:
    body = AckResponse.nack(ErrorCode.ITEM_NOT_FOUND, "no such offer", "message.order.items[0].id").dump()
    assert body == {
        "message": {"ack": {"status": "NACK"}},
        "error": {"code": "30004", "paths": "message.order.items[0].id", "message": "no such offer"},
    }
    assert_ack_conforms(body)


def test_nack_for_a_not_applicable_action_conforms_without_paths() -> None:
    body = AckResponse.nack(ErrorCode.ACTION_NOT_APPLICABLE, "track is not applicable").dump()
    assert "paths" not in body["error"]
    assert_ack_conforms(body)


def test_nack_from_a_schema_failure_conforms() -> None:
    body: dict[str, Any] = {"context": request_context(Action.CANCEL).dump(), "message": {}}
    with pytest.raises(ValidationError) as caught:
        parse_envelope(Action.CANCEL, body)
    nack = AckResponse.nack(ErrorCode.INVALID_REQUEST, "invalid request", validation_paths(caught.value))
    assert nack.dump()["error"]["paths"] == "message.order_id"
    assert_ack_conforms(nack.dump())


def test_ack_schema_check_can_fail() -> None:
    assert list(ack_validator().iter_errors({"message": {"ack": {"status": "MAYBE"}}}))
    assert list(ack_validator().iter_errors({"error": {"code": "30000"}}))


@pytest.mark.parametrize(
    "reply",
    [
        {"message": {"ack": {"status": "ACK"}}},
        {"message": {"ack": {"status": "ack"}}},
        {"context": {"action": "search", "message_id": "m-1"}, "message": {"ack": {"status": "ACK"}}},
        {"message": {"ack": {"status": "ACK", "tags": []}}, "x-trace": "abc"},
    ],
)
def test_replies_from_peers_are_read_liberally(reply: dict[str, Any]) -> None:
    response = AckResponse.from_reply(reply)
    assert response.is_ack
    assert response.error is None


def test_a_peer_nack_is_read_with_its_error() -> None:
    response = AckResponse.from_reply(
        {"message": {"ack": {"status": "NACK"}}, "error": {"code": 30016, "message": "bad signature"}}
    )
    assert not response.is_ack
    assert response.error is not None and response.error.code == ErrorCode.BPP_INVALID_SIGNATURE


@pytest.mark.parametrize("reply", [{}, {"message": {}}, {"message": {"ack": {"status": "FINE"}}}])
def test_a_reply_without_an_ack_status_is_refused(reply: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        AckResponse.from_reply(reply)
