"""Reading registry answers in every spelling, lookup queries, static and chained sources."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from registry_client.errors import LookupFailed
from registry_client.lookup import (
    ChainedSource,
    HttpRegistry,
    LookupQuery,
    StaticRegistry,
    SubscriberStatus,
    SubscriberType,
    parse_subscribers,
)
from tests.registry_client.factories import DOMAIN, identity, registry_entry, subscriber
from tests.support.servers import free_port

BAP = identity("bap.example.com", "bap-key-1")
BPP = identity("bpp.example.com", "bpp-key-1")


@pytest.mark.parametrize("spelling", ["spec", "deployed", "protocol-server"])
def test_every_spelling_reads_the_same(spelling: Any) -> None:
    [entry] = parse_subscribers([registry_entry(BAP, spelling=spelling)])
    assert entry.subscriber_id == "bap.example.com"
    assert entry.unique_key_id == "bap-key-1"
    assert entry.url == "https://bap.example.com/beckn"
    assert entry.type is SubscriberType.BAP
    assert entry.status is SubscriberStatus.SUBSCRIBED
    assert entry.signing_public_key == BAP.signing_public_key
    assert entry.encryption_public_key == BAP.encryption_public_key
    assert (entry.city, entry.country, entry.domain) == ("*", "IND", DOMAIN)
    assert entry.valid_until is not None and entry.valid_until.tzinfo is not None
    assert entry.is_usable()


def test_lowercase_types_statuses_and_other_key_names_are_read() -> None:
    raw = registry_entry(BPP, type="bpp", status="subscribed")
    raw["encryption_public_key"] = raw.pop("encr_public_key")
    raw["uk_id"] = raw.pop("unique_key_id")
    [entry] = parse_subscribers(raw)
    assert (entry.type, entry.status, entry.unique_key_id) == (
        SubscriberType.BPP,
        SubscriberStatus.SUBSCRIBED,
        "bpp-key-1",
    )
    assert entry.encryption_public_key == BPP.encryption_public_key


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2030-01-02T03:04:05Z", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2030-01-02T03:04:05.123Z", datetime(2030, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)),
        ("2030-01-02T08:34:05+05:30", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2030-01-02T03:04:05", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_timestamps_with_or_without_a_zone(stamp: str, expected: datetime) -> None:
    [entry] = parse_subscribers([{**registry_entry(BAP), "valid_until": stamp}])
    assert entry.valid_until == expected


@pytest.mark.parametrize(
    "wrapper",
    ["subscribers", "data", "results", "message"],
    ids=["subscribers", "data", "results", "any-one-list"],
)
def test_an_object_holding_the_list_is_read(wrapper: str) -> None:
    assert len(parse_subscribers({wrapper: [registry_entry(BAP), registry_entry(BPP, type="BPP")]})) == 2


def test_malformed_entries_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    good = registry_entry(BAP)
    broken: list[object] = [
        "not an object",
        {**registry_entry(BPP), "signing_public_key": "AAAA"},
        {key: value for key, value in registry_entry(BPP).items() if key != "subscriber_url"},
        {**registry_entry(BPP), "type": "CUSTOMER"},
        {**registry_entry(BPP), "status": "MAYBE"},
        {key: value for key, value in registry_entry(BPP).items() if key != "status"},
        {**registry_entry(BPP), "valid_until": "next tuesday"},
        {**registry_entry(BPP), "valid_until": 1700000000},
        {**registry_entry(BPP), "subscriber_id": ["a"]},
    ]
    with caplog.at_level(logging.WARNING, logger="registry_client"):
        found = parse_subscribers([*broken, good])
    assert [entry.subscriber_id for entry in found] == ["bap.example.com"]
    assert len([record for record in caplog.records if "skipping registry entry" in record.message]) == len(
        broken
    )


@pytest.mark.parametrize("payload", ["nope", 42, None, {"error": {"code": "x"}}])
def test_an_answer_holding_no_list_is_a_failed_lookup(payload: object) -> None:
    with pytest.raises(LookupFailed):
        parse_subscribers(payload)


def test_entries_outside_their_window_or_not_subscribed_are_not_usable() -> None:
    now = datetime.now(UTC)
    assert not subscriber(BAP, status=SubscriberStatus.UNSUBSCRIBED).is_usable(now)
    assert not subscriber(BAP, valid_until=now - timedelta(seconds=1)).is_usable(now)
    [future] = parse_subscribers([registry_entry(BAP, valid_from=now + timedelta(hours=1))])
    assert not future.is_usable(now)
    assert future.unusable_reason(now) is not None and "not valid before" in future.unusable_reason(now)  # type: ignore[operator]
    assert subscriber(BAP, valid_until=now).is_usable(now)


def test_query_payload_uses_spec_names_and_unique_key_id() -> None:
    query = LookupQuery(
        subscriber_id="bpp.example.com",
        unique_key_id="k1",
        type=SubscriberType.BPP,
        domain=DOMAIN,
        city="std:080",
        country="IND",
    )
    assert query.to_payload() == {
        "subscriber_id": "bpp.example.com",
        "key_id": "k1",
        "unique_key_id": "k1",
        "type": "BPP",
        "domain": DOMAIN,
        "city": "std:080",
        "country": "IND",
        "location": {"city": {"code": "std:080"}, "country": {"code": "IND"}},
    }
    assert LookupQuery().to_payload() == {}


@pytest.mark.parametrize(
    "payload",
    [
        {"subscriber_id": "bpp.example.com", "ukId": "k1", "type": "bpp"},
        {"subscriber_id": "bpp.example.com", "key_id": "k1", "type": "BPP"},
        {"subscriber_id": "bpp.example.com", "unique_key_id": "k1", "type": "BPP"},
    ],
    ids=["protocol-server", "spec", "deployed"],
)
def test_queries_are_read_in_every_spelling(payload: dict[str, Any]) -> None:
    assert LookupQuery.from_payload(payload) == LookupQuery(
        subscriber_id="bpp.example.com", unique_key_id="k1", type=SubscriberType.BPP
    )


def test_query_matching() -> None:
    bpp = subscriber(BPP, type=SubscriberType.BPP)
    assert LookupQuery().matches(bpp)
    assert LookupQuery(type=SubscriberType.BPP, domain=DOMAIN, city="std:080").matches(bpp)
    assert not LookupQuery(type=SubscriberType.BAP).matches(bpp)
    assert not LookupQuery(domain="other:domain").matches(bpp)
    assert not LookupQuery(subscriber_id=BPP.subscriber_id, unique_key_id="old-key").matches(bpp)
    [in_kochi] = parse_subscribers([{**registry_entry(BPP), "city": "std:0484"}])
    assert not LookupQuery(city="std:080").matches(in_kochi)
    assert LookupQuery(city="*").matches(in_kochi)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
async def test_static_registry_from_a_file(tmp_path: Path, suffix: str) -> None:
    entries = [registry_entry(BAP), registry_entry(BPP, type="bpp", spelling="spec")]
    del entries[0]["status"]  # the operator's own file vouches for its entries
    path = tmp_path / f"subscribers{suffix}"
    path.write_text(json.dumps(entries) if suffix == ".json" else yaml.safe_dump({"subscribers": entries}))
    registry = StaticRegistry.from_file(path)
    [bap] = await registry.lookup(
        LookupQuery(subscriber_id=BAP.subscriber_id, unique_key_id=BAP.unique_key_id)
    )
    assert bap.status is SubscriberStatus.SUBSCRIBED
    assert [entry.subscriber_id for entry in await registry.lookup(LookupQuery(type=SubscriberType.BPP))] == [
        BPP.subscriber_id
    ]


@pytest.mark.parametrize("content", [None, "[{", "- : :\n  -"])
def test_an_unreadable_subscriber_file_is_a_failed_lookup(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "subscribers.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(LookupFailed, match="subscriber file"):
        StaticRegistry.from_file(path)


async def test_chained_source_answers_from_the_first_that_knows(http_client: httpx.AsyncClient) -> None:
    local = StaticRegistry([subscriber(BAP)])
    empty = StaticRegistry([])
    nobody_listens = HttpRegistry(f"http://127.0.0.1:{free_port()}", http_client, timeout=2)
    query = LookupQuery(subscriber_id=BAP.subscriber_id)
    assert [s.subscriber_id for s in await ChainedSource([empty, local]).lookup(query)] == [BAP.subscriber_id]
    assert [s.subscriber_id for s in await ChainedSource([nobody_listens, local]).lookup(query)] == [
        BAP.subscriber_id
    ]
    assert await ChainedSource([empty, StaticRegistry([])]).lookup(query) == []
    with pytest.raises(LookupFailed, match="no subscriber source answered"):
        await ChainedSource([empty, nobody_listens]).lookup(query)
