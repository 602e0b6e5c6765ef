"""Messages we build conform to transaction.yaml; bodies we receive are parsed with precise error paths."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.core_v1 import (
    IMPLEMENTED_ACTIONS,
    Action,
    BecknModel,
    Envelope,
    OnSearchMessage,
    Order,
    SearchMessage,
    StatusMessage,
    parse_envelope,
    parse_envelope_json,
    validation_paths,
)
from schemas.profile import profile_errors
from tests.schemas.factories import ORDER_ID, envelope_for, request_context
from tests.support.conformance import assert_conforms

BUILT_ACTIONS = sorted({action for request in IMPLEMENTED_ACTIONS for action in (request, request.callback)})


@pytest.mark.parametrize("action", BUILT_ACTIONS)
def test_built_messages_conform_to_the_spec(action: Action) -> None:
    assert_conforms(envelope_for(action).dump(), action)


@pytest.mark.parametrize("action", BUILT_ACTIONS)
def test_built_messages_carry_valid_profile_tag_groups(action: Action) -> None:
    assert profile_errors(envelope_for(action).dump()["message"]) == []


@pytest.mark.parametrize("action", BUILT_ACTIONS)
def test_built_messages_parse_back_to_the_same_wire_form(action: Action) -> None:
    body = envelope_for(action).dump()
    envelope = parse_envelope(action, body)
    assert type(envelope.message).__name__ == type(envelope_for(action).message).__name__
    assert envelope.dump() == body


def test_conformance_check_catches_a_broken_body() -> None:
    body = envelope_for(Action.SELECT).dump()
    body["context"]["timestamp"] = "21/11/2026"
    del body["message"]["order"]
    with pytest.raises(AssertionError, match=r"\$\.context\.timestamp") as caught:
        assert_conforms(body)
    assert "'order' is a required property" in str(caught.value)


def test_parse_envelope_gives_the_action_its_message_model() -> None:
    envelope = parse_envelope("on_search", envelope_for(Action.ON_SEARCH).dump())
    assert isinstance(envelope.message, OnSearchMessage)
    assert envelope.context.action is Action.ON_SEARCH


def body_with(action: Action, message: dict[str, Any]) -> dict[str, Any]:
    return {"context": request_context(action).dump(), "message": message}


def paths_of(action: Action, body: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_envelope(action, body)
    return validation_paths(caught.value)


def test_validation_paths_point_at_the_failing_fields() -> None:
    body = body_with(Action.SELECT, {"order": {"items": [{"id": "a"}, {"id": ["not", "a", "string"]}]}})
    body["context"]["timestamp"] = "not a time"
    assert paths_of(Action.SELECT, body) == "context.timestamp, message.order.items[1].id"


def test_a_request_without_its_required_message_fields_is_rejected() -> None:
    assert paths_of(Action.CANCEL, body_with(Action.CANCEL, {})) == "message.order_id"
    assert paths_of(Action.UPDATE, body_with(Action.UPDATE, {"order": {}})) == "message.update_target"
    assert paths_of(Action.STATUS, body_with(Action.STATUS, {})) == "message"


def test_a_request_without_a_message_is_rejected_at_message() -> None:
    body = body_with(Action.CONFIRM, {})
    del body["message"]
    assert paths_of(Action.CONFIRM, body) == "message"


def test_a_callback_may_carry_an_error_instead_of_a_message() -> None:
    context = request_context(Action.SELECT).callback()
    body = {"context": context.dump(), "error": {"code": "40002", "message": "only 60 kW left"}}
    envelope = parse_envelope(Action.ON_SELECT, body)
    assert envelope.message is None and envelope.error is not None
    assert envelope.error.code == "40002"
    assert_conforms(envelope.dump())

    del body["error"]
    assert paths_of(Action.ON_SELECT, body) == "message"


def test_a_context_naming_another_action_is_rejected_at_context_action() -> None:
    body = body_with(Action.SELECT, {"order": {}})
    with pytest.raises(ValidationError) as caught:
        parse_envelope(Action.INIT, body)
    assert validation_paths(caught.value) == "context.action"
    assert "expected init" in str(caught.value)


def test_a_context_without_action_is_read_as_the_endpoint_action() -> None:
    body = body_with(Action.SEARCH, {"intent": {}})
    del body["context"]["action"]
    assert parse_envelope("search", body).context.action is Action.SEARCH


def test_a_missing_context_is_reported() -> None:
    assert paths_of(Action.SEARCH, {"message": {"intent": {}}}) == "context"


def test_a_body_that_is_not_an_object_is_reported_at_the_root() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_envelope(Action.SEARCH, ["not", "an", "object"])  # type: ignore[arg-type]
    assert validation_paths(caught.value) == "$"


def test_status_accepts_ref_id_for_older_peers() -> None:
    envelope = parse_envelope(Action.STATUS, body_with(Action.STATUS, {"ref_id": ORDER_ID}))
    assert isinstance(envelope.message, StatusMessage)
    assert (envelope.message.ref_id, envelope.message.order_id) == (ORDER_ID, None)


@pytest.mark.parametrize("action", [Action.TRACK, Action.RATING, Action.SUPPORT])
def test_not_applicable_requests_still_parse_so_they_can_be_answered(action: Action) -> None:
    envelope = parse_envelope(action, body_with(action, {"order_id": ORDER_ID, "ref_id": ORDER_ID}))
    assert envelope.context.action is action


def test_an_envelope_is_built_from_a_concrete_message() -> None:
    envelope = Envelope[SearchMessage](context=request_context(Action.SEARCH), message=SearchMessage())
    assert envelope.dump()["message"] == {}
    generic = Envelope[BecknModel](context=request_context(Action.SELECT), message=Order(id="x"))
    assert generic.dump()["message"] == {"id": "x"}


def raw(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize("action", BUILT_ACTIONS)
def test_parsing_the_raw_bytes_gives_what_parsing_the_decoded_json_gives(action: Action) -> None:
    body = envelope_for(action).dump()
    assert parse_envelope_json(action, raw(body)) == parse_envelope(action, body)


def raw_paths_of(action: Action, body: bytes) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_envelope_json(action, body)
    return validation_paths(caught.value)


def test_the_raw_bytes_are_held_to_the_same_rules() -> None:
    select = body_with(Action.SELECT, {"order": {"items": [{"id": "a"}, {"id": ["not", "a", "string"]}]}})
    select["context"]["timestamp"] = "not a time"
    assert raw_paths_of(Action.SELECT, raw(select)) == paths_of(Action.SELECT, select)
    confirm = body_with(Action.CONFIRM, {})
    del confirm["message"]
    assert raw_paths_of(Action.CONFIRM, raw(confirm)) == "message"
    on_select = {"context": request_context(Action.SELECT).callback().dump(), "error": {"code": "40002"}}
    assert parse_envelope_json(Action.ON_SELECT, raw(on_select)).error is not None


def test_in_the_raw_bytes_a_context_naming_another_action_is_reported_alone() -> None:
    body = body_with(Action.SELECT, {"order": {"items": "not a list"}})
    with pytest.raises(ValidationError) as caught:
        parse_envelope_json(Action.INIT, raw(body))
    assert validation_paths(caught.value) == "context.action"
    assert "expected init" in str(caught.value)


def test_in_the_raw_bytes_a_context_without_action_is_read_as_the_endpoint_action() -> None:
    body = body_with(Action.SEARCH, {"intent": {}})
    del body["context"]["action"]
    assert parse_envelope_json(Action.SEARCH, raw(body)).context.action is Action.SEARCH


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b'{"context": {', "json_invalid"), (b"", "json_invalid"), (b'["not", "an", "object"]', "model_type")],
)
def test_raw_bytes_that_are_not_a_json_object_are_reported_at_the_root(body: bytes, kind: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_envelope_json(Action.SEARCH, body)
    (error,) = caught.value.errors()
    assert (error["type"], validation_paths(caught.value)) == (kind, "$")
