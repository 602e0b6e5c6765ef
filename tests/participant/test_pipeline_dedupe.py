"""Dedupe by (sender, message_id) with the in-memory first check: the same answers as the database alone.

The message log's UNIQUE key is the authority; `RecentMessages` only spares it a round trip. These tests
watch the statements sent to SQLite to tell which of the two refused a replay.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from participant.db import make_engine, make_session_factory, utcnow
from participant.errors import BecknNack
from participant.inbound import (
    BaseActionHandler,
    InboundMessage,
    InboundPipeline,
    InboundPolicy,
    InboundReply,
    InboxDispatcher,
    Inspection,
    RecentMessages,
    Rejection,
)
from participant.messagelog import MessageLogRepository
from registry_client.keys import Identity, generate_identity
from registry_client.lookup import KeyStore, StaticRegistry, Subscriber, SubscriberStatus, SubscriberType
from registry_client.signing import sign_body
from registry_client.verifier import RequestVerifier
from schemas.core_v1 import Action, Context
from schemas.errors import ErrorCode
from tests.support.peer import minimal_message

DOMAIN = "deg:demand-flex"
TTL = timedelta(seconds=30)
SKEW = timedelta(seconds=5)
BAP, OTHER_BAP = generate_identity("utility.bap"), generate_identity("other-utility.bap")
BPP_ID = "aggregator.bpp"
SIGNERS = [
    Subscriber(
        subscriber_id=who.subscriber_id,
        unique_key_id=who.unique_key_id,
        type=SubscriberType.BAP,
        url="http://utility.test",
        signing_public_key=who.signing_public_key,
        status=SubscriberStatus.SUBSCRIBED,
        domain=DOMAIN,
    )
    for who in (BAP, OTHER_BAP)
]


@dataclass
class Recorder(BaseActionHandler):
    """Counts `accept` calls per message_id; refuses (or fails) while told to."""

    accepted: list[str] = field(default_factory=list)
    refuse_with: Exception | None = None

    async def accept(self, session: AsyncSession, message: InboundMessage) -> None:
        if self.refuse_with is not None:
            raise self.refuse_with
        self.accepted.append(message.context.message_id)


class InsertWatch:
    """The authoritative inserts (INSERT … ON CONFLICT) an engine sends."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "ON CONFLICT" in statement.upper():
            self.count += 1


@dataclass
class Node:
    """One process of a participant: its engine, its pipeline (with its own RecentMessages)."""

    pipeline: InboundPipeline
    handler: Recorder
    inserts: InsertWatch


def signed_search(sender: Identity = BAP, message_id: str | None = None) -> tuple[bytes, dict[str, str]]:
    context = Context.new(
        action=Action.SEARCH,
        domain=DOMAIN,
        bap_id=sender.subscriber_id,
        bap_uri="http://utility.test",
        ttl=TTL,
    )
    if message_id is not None:
        context = context.model_copy(update={"message_id": message_id})
    body = json.dumps({"context": context.dump(), "message": minimal_message(Action.SEARCH)}).encode()
    authorization = sign_body(
        body,
        signing_key=sender.signing_private_key,
        subscriber_id=sender.subscriber_id,
        unique_key_id=sender.unique_key_id,
    )
    return body, {"content-type": "application/json", "authorization": authorization}


async def deliver(
    node: Node, message: tuple[bytes, dict[str, str]], received_at: datetime | None = None
) -> InboundReply:
    """What the route does with a body it has read: admit, or log the rejection and NACK."""
    body, headers = message
    inspection = Inspection(
        action=Action.SEARCH,
        headers=headers,
        url="http://aggregator.test/search",
        received_at=received_at or utcnow(),
        body=body,
    )
    try:
        return await node.pipeline.admit(inspection)
    except Rejection as rejection:
        return await node.pipeline.reject(inspection, rejection)


def error_code(reply: InboundReply) -> str | None:
    return None if reply.body.error is None else str(reply.body.error.code)


def message_id(message: tuple[bytes, dict[str, str]]) -> str:
    value: str = json.loads(message[0])["context"]["message_id"]
    return value


NodeFactory = Callable[..., Node]


@pytest.fixture
async def start_node(sqlite_database_url: str) -> AsyncIterator[NodeFactory]:
    """Builds nodes on one migrated SQLite file; each is a fresh process as far as memory goes."""
    nodes: list[tuple[Node, AsyncEngine]] = []

    def start(
        *,
        recent: RecentMessages | None = None,
        wall_clock: Callable[[], datetime] = utcnow,
        epoch_clock: Callable[[], float] | None = None,
    ) -> Node:
        engine = make_engine(sqlite_database_url)
        sessions = make_session_factory(engine)
        keystore = KeyStore(StaticRegistry(SIGNERS))
        handler = Recorder()
        handlers = {Action.SEARCH: handler}
        verifier = RequestVerifier(keystore, skew=SKEW.total_seconds())
        if epoch_clock is not None:
            verifier = RequestVerifier(keystore, skew=SKEW.total_seconds(), clock=epoch_clock)
        pipeline = InboundPipeline(
            policy=InboundPolicy(
                subscriber_id=BPP_ID,
                domains=frozenset({DOMAIN}),
                version="1.1",
                skew=SKEW,
                max_body_bytes=65_536,
            ),
            verifier=verifier,
            session_factory=sessions,
            handlers=handlers,
            inbox=InboxDispatcher(sessions, handlers, keystore),
            recent=recent,
            clock=wall_clock,
        )
        node = Node(pipeline, handler, InsertWatch(engine))
        nodes.append((node, engine))
        return node

    yield start
    for node, engine in nodes:
        await node.pipeline.inbox.stop()  # let `process` and its bookkeeping finish
        await engine.dispose()


async def logged(node: Node, message: tuple[bytes, dict[str, str]]) -> list[str]:
    """The ack status of every record of this message in the message log (any sender)."""
    async with node.pipeline.session_factory() as session:
        records = await MessageLogRepository(session).search(limit=1000)
    return sorted(record.ack_status or "" for record in records if record.message_id == message_id(message))


async def test_a_replay_within_its_window_is_refused_from_memory(start_node: NodeFactory) -> None:
    node = start_node()
    message = signed_search()

    assert (await deliver(node, message)).status_code == 200
    assert node.inserts.count == 1

    replay = await deliver(node, message)
    assert (replay.status_code, error_code(replay)) == (409, "30022")
    assert replay.body.error is not None and replay.body.error.paths == "context.message_id"
    assert node.inserts.count == 1  # refused without asking the database
    assert node.handler.accepted == [message_id(message)]
    assert await logged(node, message) == ["ACK", "NACK"]  # the replay is still logged


async def test_after_a_restart_a_replay_is_refused_by_the_database(start_node: NodeFactory) -> None:
    before = start_node()
    message = signed_search()
    assert (await deliver(before, message)).status_code == 200

    after = start_node()  # a new process: nothing in memory
    replay = await deliver(after, message)

    assert (replay.status_code, error_code(replay)) == (409, "30022")
    assert after.inserts.count == 1  # the insert found it
    assert after.handler.accepted == []
    again = await deliver(after, message)
    assert (again.status_code, after.inserts.count) == (409, 1)  # and now this process remembers it


async def test_a_replay_is_refused_from_memory_until_its_ttl_and_skew_then_as_stale(
    start_node: NodeFactory,
) -> None:
    """The window is the message's own: past timestamp + ttl + skew, the context check refuses it."""
    moment = {"offset": 0.0}
    started, monotonic = datetime.now(UTC), 10_000.0

    def wall() -> datetime:
        return started + timedelta(seconds=moment["offset"])

    node = start_node(
        recent=RecentMessages(clock=lambda: monotonic + moment["offset"]),
        wall_clock=wall,
        epoch_clock=lambda: wall().timestamp(),
    )
    message = signed_search()
    assert (await deliver(node, message, wall())).status_code == 200

    moment["offset"] = 20
    replay = await deliver(node, message, wall())
    assert (replay.status_code, error_code(replay), node.inserts.count) == (409, "30022", 1)

    moment["offset"] = (TTL + SKEW).total_seconds() + 1
    assert not node.pipeline.recent.seen(BAP.subscriber_id, message_id(message))
    stale = await deliver(node, message, wall())
    assert (stale.status_code, error_code(stale)) == (400, "30022")
    assert stale.body.error is not None and stale.body.error.paths == "context.ttl"
    assert node.inserts.count == 1


@pytest.mark.parametrize(
    ("failure", "status"),
    [(BecknNack(ErrorCode.ITEM_NOT_FOUND, "no such offer"), 400), (RuntimeError("database hiccup"), 503)],
    ids=["nack-from-accept", "accept-failed"],
)
async def test_a_message_that_was_not_accepted_is_not_remembered(
    start_node: NodeFactory, failure: Exception, status: int
) -> None:
    node = start_node()
    message = signed_search()
    node.handler.refuse_with = failure
    assert (await deliver(node, message)).status_code == status

    node.handler.refuse_with = None
    assert (await deliver(node, message)).status_code == 200  # the sender's retry goes through
    assert node.handler.accepted == [message_id(message)]


async def test_simultaneous_copies_are_accepted_once(start_node: NodeFactory) -> None:
    """Both copies pass the memory check before either is stored: the insert decides."""
    node = start_node()
    message = signed_search()

    replies = await asyncio.gather(*(deliver(node, message) for _ in range(4)))

    assert sorted(reply.status_code for reply in replies) == [200, 409, 409, 409]
    assert node.handler.accepted == [message_id(message)]
    assert await logged(node, message) == ["ACK", "NACK", "NACK", "NACK"]


async def test_another_sender_may_use_the_same_message_id(start_node: NodeFactory) -> None:
    node = start_node()
    first = signed_search()
    assert (await deliver(node, first)).status_code == 200

    same_id = signed_search(OTHER_BAP, message_id=message_id(first))
    assert (await deliver(node, same_id)).status_code == 200
    assert node.handler.accepted == [message_id(first)] * 2
