"""The JSON-and-schema stage reads the raw bytes in one pass and answers as the two-step reading did."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from participant.inbound.checks import Rejection, parse_body, parse_json, parse_schema
from schemas.core_v1 import Action, Context
from tests.support.peer import minimal_message


def search_body() -> dict[str, object]:
    context = Context.new(
        action=Action.SEARCH, domain="deg:demand-flex", bap_id="utility.bap", bap_uri="http://utility.test"
    )
    return {"context": context.dump(), "message": minimal_message(Action.SEARCH)}


def refusal(action: Action, body: bytes) -> Rejection:
    with pytest.raises(Rejection) as caught:
        parse_body(action, body)
    return caught.value


def test_a_valid_body_is_read_as_the_two_step_reading_reads_it() -> None:
    body = json.dumps(search_body()).encode()
    assert parse_body(Action.SEARCH, body) == parse_schema(Action.SEARCH, parse_json(Action.SEARCH, body))


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: b"\xef\xbb\xbf" + text.encode(),  # a UTF-8 byte order mark
        lambda text: text.encode("utf-16"),
        lambda text: text.replace('"message":{', '"message":{"note":"\\ud800",').encode(),  # lone surrogate
    ],
    ids=["utf-8-bom", "utf-16", "lone-surrogate"],
)
def test_json_that_python_reads_but_the_fast_parser_refuses_is_still_accepted(
    encode: Callable[[str], bytes],
) -> None:
    body = encode(json.dumps(search_body(), separators=(",", ":")))
    assert parse_body(Action.SEARCH, body).context.action is Action.SEARCH


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"context": {"action": "search", ', "the body is not JSON: "),
        (b"", "the body is not JSON: "),
        (b"\xff\xfe\xfa", "the body is not JSON: "),
        (b'["not", "an", "object"]', "the body is not a JSON object"),
        (b"null", "the body is not a JSON object"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused_as_such(body: bytes, message: str) -> None:
    rejection = refusal(Action.SEARCH, body)
    assert (rejection.http_status, rejection.code.value, rejection.paths) == (400, "30000", None)
    assert rejection.message.startswith(message)


def test_a_schema_failure_names_its_paths() -> None:
    body = search_body()
    body["message"] = {"intent": {"tags": "not a list"}}
    rejection = refusal(Action.SEARCH, json.dumps(body).encode())
    assert rejection.paths == "message.intent.tags"
    assert rejection.message.startswith("the body is not a valid search: ")


def test_a_body_for_another_action_is_refused_at_context_action() -> None:
    rejection = refusal(Action.SELECT, json.dumps(search_body()).encode())
    assert rejection.paths == "context.action"
    assert rejection.message == "the body is not a valid select: expected select"
