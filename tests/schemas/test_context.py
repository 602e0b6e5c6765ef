"""The context we emit (UUIDs, millisecond UTC timestamps, ISO 8601 ttl) and the contexts we accept."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from schemas.core_v1 import Action, Context
from tests.schemas.factories import BAP_ID, BAP_URI, BPP_ID, BPP_URI, DOMAIN, request_context

RFC3339_MILLIS_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def peer_context(**overrides: object) -> dict[str, object]:
    context: dict[str, object] = {
        "domain": "flexibility",
        "action": "confirm",
        "version": "1.1.0",
        "bap_id": "energy-bap-network.example.com",
        "bap_uri": "https://energy-bap-network.example.com",
        "bpp_id": "energy-incentive-bpp.example.com",
        "bpp_uri": "https://energy-incentive-bpp.example.com",
        "transaction_id": "incentive-txn-1001",
        "message_id": "incentive-msg-2004",
        "timestamp": "2025-05-07T10:48:00Z",
    }
    context.update(overrides)
    return context


def test_new_context_has_uuid_ids_a_millisecond_utc_timestamp_and_an_iso_ttl() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    context = Context.new(action=Action.SEARCH, domain=DOMAIN, bap_id=BAP_ID, bap_uri=BAP_URI)
    wire = context.dump()

    assert uuid.UUID(wire["transaction_id"]).version == 4
    assert uuid.UUID(wire["message_id"]).version == 4
    assert wire["transaction_id"] != wire["message_id"]
    assert RFC3339_MILLIS_Z.fullmatch(wire["timestamp"])
    assert before <= context.timestamp <= datetime.now(UTC)
    assert context.timestamp.microsecond % 1000 == 0, "the model must equal what the peer reads back"
    assert wire["ttl"] == "PT30S"
    assert wire["version"] == "1.1.0"
    assert wire["action"] == "search"
    assert "bpp_id" not in wire and "location" not in wire


def test_new_context_places_country_and_city_in_location() -> None:
    context = Context.new(
        action=Action.SELECT,
        domain=DOMAIN,
        bap_id=BAP_ID,
        bap_uri=BAP_URI,
        bpp_id=BPP_ID,
        bpp_uri=BPP_URI,
        transaction_id="7a3c62a8-0d7e-4a5e-9f47-6a1f3fa7c2b1",
        ttl=timedelta(minutes=2),
        country="USA",
        city="std:415",
    )
    wire = context.dump()
    assert wire["location"] == {"country": {"code": "USA"}, "city": {"code": "std:415"}}
    assert wire["transaction_id"] == "7a3c62a8-0d7e-4a5e-9f47-6a1f3fa7c2b1"
    assert wire["ttl"] == "PT2M"
    assert (wire["bpp_id"], wire["bpp_uri"]) == (BPP_ID, BPP_URI)


def test_callback_keeps_transaction_and_message_ids_and_restamps() -> None:
    request = Context.model_validate(peer_context(timestamp="2025-05-07T10:48:00Z"))
    reply = request.callback()

    assert reply.action is Action.ON_CONFIRM
    assert (reply.transaction_id, reply.message_id) == (request.transaction_id, request.message_id)
    assert (reply.bap_id, reply.bpp_id, reply.domain) == (request.bap_id, request.bpp_id, request.domain)
    assert reply.timestamp > request.timestamp
    assert request.action is Action.CONFIRM, "the request's context is left untouched"


def test_unsolicited_callback_gets_a_new_message_id() -> None:
    confirmed = request_context(Action.CONFIRM).callback()
    pushed = confirmed.callback(Action.ON_STATUS, unsolicited=True)

    assert pushed.action is Action.ON_STATUS
    assert pushed.transaction_id == confirmed.transaction_id
    assert pushed.message_id != confirmed.message_id
    assert uuid.UUID(pushed.message_id)


def test_callback_fills_in_the_bpp_answering_a_gateway_search() -> None:
    search = request_context(Action.SEARCH)
    reply = search.callback(bpp_id=BPP_ID, bpp_uri=BPP_URI)
    assert (reply.action, reply.bpp_id, reply.bpp_uri) == (Action.ON_SEARCH, BPP_ID, BPP_URI)
    assert search.bpp_id is None


def test_callback_refuses_a_request_action() -> None:
    with pytest.raises(ValueError, match="not a callback"):
        request_context(Action.SEARCH).callback(Action.SELECT)


def test_expires_at_adds_the_ttl_to_the_timestamp() -> None:
    context = Context.model_validate(peer_context(timestamp="2025-05-07T10:48:00Z", ttl="PT1H30M"))
    assert context.expires_at() == datetime(2025, 5, 7, 12, 18, tzinfo=UTC)
    assert Context.model_validate(peer_context()).expires_at() is None


def test_accepts_non_uuid_ids_and_timestamps_with_offsets_or_without_fractions() -> None:
    context = Context.model_validate(peer_context(timestamp="2025-08-20T14:30:00+05:30"))
    assert context.transaction_id == "incentive-txn-1001"
    assert context.timestamp == datetime(2025, 8, 20, 9, 0, tzinfo=UTC)
    assert context.dump()["timestamp"] == "2025-08-20T09:00:00.000Z"


def test_accepts_beckn_1_0_fields_and_keeps_them() -> None:
    legacy = peer_context(city="std:080", country="IND", core_version="1.0.0")
    del legacy["version"]
    context = Context.model_validate(legacy)

    assert context.location is not None and context.location.city is not None
    assert context.location.city.code == "std:080"
    assert context.location.country is not None and context.location.country.code == "IND"
    assert context.version == "1.0.0"
    wire = context.dump()
    assert (wire["city"], wire["country"], wire["core_version"]) == ("std:080", "IND", "1.0.0")


def test_keeps_unknown_context_fields() -> None:
    context = Context.model_validate(peer_context(schema_context=["https://example.com/context.jsonld"]))
    assert context.dump()["schema_context"] == ["https://example.com/context.jsonld"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ttl", "30 seconds"),
        ("ttl", "P40000000M"),
        ("timestamp", "yesterday"),
        ("action", "discover"),
        ("bap_id", None),
    ],
)
def test_rejects_unreadable_context_values(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        Context.model_validate(peer_context(**{field: value}))
    assert caught.value.errors()[0]["loc"] == (field,)
