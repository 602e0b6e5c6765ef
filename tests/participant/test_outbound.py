"""OutboundSender: contexts stamped with our identity, strict bodies, and where each message goes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from participant.db import make_engine, make_session_factory
from participant.messagelog import MessageRecord
from participant.outbound import InvalidOutboundMessage, NoTarget, OutboundSender
from participant.outbox import OutboxEntry
from participant.settings import ParticipantSettings
from registry_client.keys import generate_identity
from registry_client.lookup import KeyStore, StaticRegistry
from schemas.core_v1 import Action, parse_duration
from tests.support.conformance import assert_conforms
from tests.support.peer import minimal_message

BAP_URL = "http://utility.test/beckn"
BPP_URL = "http://aggregator.test/beckn"


def settings(tmp_path: Path, **overrides: object) -> ParticipantSettings:
    me = generate_identity("utility.test")
    values: dict[str, Any] = {
        "subscriber_id": "utility.test",
        "subscriber_url": BAP_URL,
        "unique_key_id": me.unique_key_id,
        "signing_private_key": me.signing_private_key,
        "registry_file": tmp_path / "subscribers.json",
        "message_ttl_seconds": 30,
    }
    values.update(overrides)
    return ParticipantSettings(**values)


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    """Two usable BPPs (one with two keys), one unsubscribed BPP, a BAP, in another domain a BPP."""
    entries = []
    for subscriber_id, type_, status, domain in [
        ("a.bpp", "BPP", "SUBSCRIBED", "deg:demand-flex"),
        ("a.bpp", "BPP", "SUBSCRIBED", "deg:demand-flex"),
        ("b.bpp", "BPP", "SUBSCRIBED", "deg:demand-flex"),
        ("gone.bpp", "BPP", "UNSUBSCRIBED", "deg:demand-flex"),
        ("other.bap", "BAP", "SUBSCRIBED", "deg:demand-flex"),
        ("taxi.bpp", "BPP", "SUBSCRIBED", "mobility:taxi"),
    ]:
        identity = generate_identity(subscriber_id)
        entries.append(
            {
                "subscriber_id": subscriber_id,
                "unique_key_id": identity.unique_key_id,
                "type": type_,
                "status": status,
                "domain": domain,
                "url": f"http://{subscriber_id}/beckn/",
                "signing_public_key": identity.signing_public_key,
            }
        )
    path = tmp_path / "subscribers.json"
    path.write_text(json.dumps(entries))
    return path


@pytest.fixture
async def sessions(sqlite_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(sqlite_database_url)
    yield make_session_factory(engine)
    await engine.dispose()


def sender_for(tmp_path: Path, registry_file: Path, **overrides: object) -> tuple[OutboundSender, list[str]]:
    woken: list[str] = []
    config = settings(tmp_path, registry_file=registry_file, **overrides)
    keystore = KeyStore(StaticRegistry.from_file(registry_file))
    return OutboundSender(config, keystore, wake=lambda: woken.append("wake")), woken


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[OutboxEntry, MessageRecord]]:
    async with sessions() as session:
        rows = await session.execute(
            select(OutboxEntry, MessageRecord).join(
                MessageRecord, OutboxEntry.message_record_id == MessageRecord.id
            )
        )
        return [(entry, record) for entry, record in rows]


def test_a_request_context_carries_our_bap_identity(tmp_path: Path, registry_file: Path) -> None:
    sender, _ = sender_for(tmp_path, registry_file)
    context = sender.request_context(Action.SELECT, bpp_id="a.bpp", bpp_uri="http://a.bpp/beckn")

    assert (context.bap_id, context.bap_uri) == ("utility.test", BAP_URL)
    assert (context.bpp_id, context.bpp_uri, context.domain, context.version) == (
        "a.bpp",
        "http://a.bpp/beckn",
        "deg:demand-flex",
        "1.1.0",
    )
    assert context.ttl is not None and parse_duration(context.ttl) == timedelta(seconds=30)
    follow_up = sender.request_context(Action.INIT, transaction_id=context.transaction_id)
    assert follow_up.transaction_id == context.transaction_id
    assert follow_up.message_id != context.message_id
    with pytest.raises(ValueError):
        sender.request_context(Action.ON_SELECT)


def test_a_reply_context_keeps_the_exchange_and_names_us_as_the_bpp(
    tmp_path: Path, registry_file: Path
) -> None:
    sender, _ = sender_for(tmp_path, registry_file, subscriber_id="a.bpp", subscriber_url=BPP_URL)
    request = sender.request_context(Action.SEARCH)

    reply = sender.reply_context(request)
    assert reply.action is Action.ON_SEARCH
    assert (reply.transaction_id, reply.message_id) == (request.transaction_id, request.message_id)
    assert (reply.bpp_id, reply.bpp_uri) == ("a.bpp", BPP_URL)

    pushed = sender.reply_context(request, Action.ON_STATUS, unsolicited=True)
    assert pushed.transaction_id == request.transaction_id and pushed.message_id != request.message_id


async def test_a_callback_goes_to_the_bap_uri_as_the_exact_validated_bytes(
    tmp_path: Path, registry_file: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sender, woken = sender_for(tmp_path, registry_file, subscriber_id="a.bpp", subscriber_url=BPP_URL)
    request = sender.request_context(Action.SELECT).model_copy(
        update={"bap_id": "other.bap", "bap_uri": BAP_URL}
    )
    context = sender.reply_context(request)

    async with sessions() as session, session.begin():
        await sender.send(
            session, action=Action.ON_SELECT, context=context, message=minimal_message(Action.ON_SELECT)
        )
        assert woken == []  # nothing is sent before the commit

    assert woken == ["wake"]
    ((entry, record),) = await stored(sessions)
    assert (entry.target_url, entry.counterparty) == (f"{BAP_URL}/on_select", "other.bap")
    expires_at = context.expires_at()
    assert expires_at is not None and entry.expires_at == expires_at
    body = json.loads(record.body)
    assert record.body == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    assert (body["context"]["message_id"], record.message_id) == (context.message_id, context.message_id)
    assert_conforms(body)


async def test_a_request_goes_to_the_bpp_uri(
    tmp_path: Path, registry_file: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sender, _ = sender_for(tmp_path, registry_file)
    context = sender.request_context(Action.CONFIRM, bpp_id="a.bpp", bpp_uri="http://a.bpp/beckn/")

    async with sessions() as session, session.begin():
        await sender.send(
            session, action=Action.CONFIRM, context=context, message=minimal_message(Action.CONFIRM)
        )

    ((entry, _),) = await stored(sessions)
    assert (entry.target_url, entry.counterparty) == ("http://a.bpp/beckn/confirm", "a.bpp")


async def test_a_search_without_a_bpp_goes_to_the_gateway_when_there_is_one(
    tmp_path: Path, registry_file: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sender, _ = sender_for(tmp_path, registry_file, gateway_url="http://gateway.test/")
    context = sender.request_context(Action.SEARCH)

    async with sessions() as session, session.begin():
        entries = await sender.send(
            session, action=Action.SEARCH, context=context, message=minimal_message(Action.SEARCH)
        )

    assert [entry.target_url for entry in entries] == ["http://gateway.test/search"]


async def test_a_search_without_gateway_goes_once_to_every_usable_bpp_of_the_domain(
    tmp_path: Path, registry_file: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sender, _ = sender_for(tmp_path, registry_file)
    context = sender.request_context(Action.SEARCH)

    async with sessions() as session, session.begin():
        await sender.send(
            session, action=Action.SEARCH, context=context, message=minimal_message(Action.SEARCH)
        )

    rows = await stored(sessions)
    assert sorted((entry.counterparty, entry.target_url) for entry, _ in rows) == [
        ("a.bpp", "http://a.bpp/beckn/search"),
        ("b.bpp", "http://b.bpp/beckn/search"),
    ]
    assert len({record.body for _, record in rows}) == 1


async def test_an_invalid_message_raises_and_nothing_is_enqueued(
    tmp_path: Path, registry_file: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sender, _ = sender_for(tmp_path, registry_file)
    context = sender.request_context(Action.SELECT, bpp_id="a.bpp", bpp_uri="http://a.bpp/beckn")

    async with sessions() as session, session.begin():
        with pytest.raises(InvalidOutboundMessage, match="message.order"):
            await sender.send(session, action=Action.SELECT, context=context, message={"order": {"items": 3}})
        with pytest.raises(InvalidOutboundMessage, match="context.action"):
            await sender.send(
                session, action=Action.INIT, context=context, message=minimal_message(Action.INIT)
            )
        unaddressed = sender.request_context(Action.SELECT)
        with pytest.raises(NoTarget):
            await sender.send(
                session, action=Action.SELECT, context=unaddressed, message=minimal_message(Action.SELECT)
            )

    assert await stored(sessions) == []


async def test_an_explicit_target_wins_and_a_short_ttl_still_gets_a_few_seconds(
    tmp_path: Path, registry_file: Path, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sender, _ = sender_for(tmp_path, registry_file)
    context = sender.request_context(
        Action.STATUS, bpp_id="a.bpp", bpp_uri="http://a.bpp", ttl=timedelta(seconds=1)
    )

    async with sessions() as session, session.begin():
        (entry,) = await sender.send(
            session,
            action=Action.STATUS,
            context=context,
            message=minimal_message(Action.STATUS),
            target_url="http://proxy.test/status",
        )

    assert (entry.target_url, entry.counterparty) == ("http://proxy.test/status", "a.bpp")
    assert entry.expires_at - context.timestamp == timedelta(seconds=5)
