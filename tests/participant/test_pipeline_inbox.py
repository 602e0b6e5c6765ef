"""The inbox: `process` after the ACK, in order within a transaction, resumed after a crash."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from participant.db import make_engine, make_session_factory, utcnow
from participant.inbound import BaseActionHandler, InboundMessage, InboxDispatcher
from participant.messagelog import MessageLogRepository, ProcessingState
from registry_client.keys import generate_identity
from registry_client.lookup import KeyStore, StaticRegistry, Subscriber, SubscriberStatus, SubscriberType
from registry_client.signing import sign_body
from schemas.core_v1 import Action, Context, parse_envelope
from tests.support.peer import minimal_message

IDENTITY = generate_identity("utility.bap")
SIGNER = Subscriber(
    subscriber_id=IDENTITY.subscriber_id,
    unique_key_id=IDENTITY.unique_key_id,
    type=SubscriberType.BAP,
    url="http://utility.test",
    signing_public_key=IDENTITY.signing_public_key,
    status=SubscriberStatus.SUBSCRIBED,
)


@pytest.fixture
async def sessions(sqlite_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(sqlite_database_url)
    yield make_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def keystore() -> KeyStore:
    return KeyStore(StaticRegistry([SIGNER]))


async def accepted(
    sessions: async_sessionmaker[AsyncSession], transaction_id: str, action: Action = Action.SEARCH
) -> InboundMessage:
    """A message as the pipeline leaves it: logged PENDING with its signed headers."""
    context = Context.new(
        action=action,
        domain="deg:demand-flex",
        bap_id=SIGNER.subscriber_id,
        bap_uri=SIGNER.url,
        transaction_id=transaction_id,
    )
    body = json.dumps({"context": context.dump(), "message": minimal_message(action)}).encode()
    authorization = sign_body(
        body,
        signing_key=IDENTITY.signing_private_key,
        subscriber_id=IDENTITY.subscriber_id,
        unique_key_id=IDENTITY.unique_key_id,
    )
    async with sessions() as session, session.begin():
        record = await MessageLogRepository(session).record_inbound(
            action=action.value,
            body=body,
            headers={"authorization": authorization},
            url=f"http://bpp.test/{action}",
            counterparty=SIGNER.subscriber_id,
            transaction_id=transaction_id,
            message_id=context.message_id,
            bap_id=context.bap_id,
            bpp_id=None,
            signature_verdict="valid",
            http_status=200,
            ack_status="ACK",
            accepted=True,
        )
    envelope = parse_envelope(action, json.loads(body))
    return InboundMessage(
        record_id=record.id,
        action=action,
        context=envelope.context,
        envelope=envelope,
        body=body,
        sender=SIGNER.subscriber_id,
        signer=SIGNER,
        gateway=None,
        received_at=utcnow(),
    )


@dataclass
class Gate(BaseActionHandler):
    """Records the order of calls; a message whose id is in `hold` waits for `release`."""

    events: list[str]
    hold: set[str]
    release: asyncio.Event

    async def process(self, message: InboundMessage) -> None:
        self.events.append(f"start {message.record_id}")
        if message.record_id in self.hold:
            await self.release.wait()
        self.events.append(f"end {message.record_id}")


async def states(
    sessions: async_sessionmaker[AsyncSession], *messages: InboundMessage
) -> list[ProcessingState]:
    async with sessions() as session:
        repository = MessageLogRepository(session)
        found = [await repository.get(message.record_id) for message in messages]
    return [record.processing_state for record in found if record is not None and record.processing_state]


async def wait_for(condition: object, timeout: float = 10) -> None:
    assert callable(condition)
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.01)


async def test_messages_of_one_transaction_are_processed_in_order_others_run_beside(
    sessions: async_sessionmaker[AsyncSession], keystore: KeyStore
) -> None:
    first, second = await accepted(sessions, "t-1"), await accepted(sessions, "t-1", Action.SELECT)
    other = await accepted(sessions, "t-2")
    gate = Gate([], {first.record_id}, asyncio.Event())
    inbox = InboxDispatcher(sessions, {Action.SEARCH: gate, Action.SELECT: gate}, keystore)

    for message in (first, second, other):
        inbox.submit(message)

    async def other_done() -> bool:
        return await states(sessions, other) == [ProcessingState.DONE]

    await wait_for(other_done)
    assert f"start {second.record_id}" not in gate.events
    gate.release.set()

    async def all_done() -> bool:
        return await states(sessions, first, second) == [ProcessingState.DONE] * 2

    await wait_for(all_done)
    assert gate.events.index(f"end {first.record_id}") < gate.events.index(f"start {second.record_id}")
    await inbox.stop()


async def test_stop_cancels_what_hangs_and_resume_runs_it_again_once(
    sessions: async_sessionmaker[AsyncSession], keystore: KeyStore
) -> None:
    message = await accepted(sessions, "t-3")
    hung = InboxDispatcher(
        sessions, {Action.SEARCH: Gate([], {message.record_id}, asyncio.Event())}, keystore
    )
    hung.submit(message)
    await hung.stop(grace=0.1)
    assert await states(sessions, message) == [ProcessingState.PENDING]

    gate = Gate([], set(), asyncio.Event())
    restarted = InboxDispatcher(sessions, {Action.SEARCH: gate}, keystore)
    assert await restarted.resume() == 1
    assert await restarted.resume() == 0  # running or done: never submitted twice

    async def done() -> bool:
        return await states(sessions, message) == [ProcessingState.DONE]

    await wait_for(done)
    assert gate.events == [f"start {message.record_id}", f"end {message.record_id}"]
    assert await restarted.resume() == 0
    await restarted.stop()


async def test_a_resumed_message_is_rebuilt_as_it_was_accepted(
    sessions: async_sessionmaker[AsyncSession], keystore: KeyStore
) -> None:
    original = await accepted(sessions, "t-4")
    seen: list[InboundMessage] = []

    class Keep(BaseActionHandler):
        async def process(self, message: InboundMessage) -> None:
            seen.append(message)

    inbox = InboxDispatcher(sessions, {Action.SEARCH: Keep()}, keystore)
    await inbox.resume()

    async def done() -> bool:
        return bool(seen)

    await wait_for(done)
    (resumed,) = seen
    assert (resumed.record_id, resumed.body, resumed.sender, resumed.signer) == (
        original.record_id,
        original.body,
        original.sender,
        SIGNER,
    )
    assert resumed.context == original.context
    await inbox.stop()


async def test_a_pending_message_without_a_handler_is_stored_as_failed(
    sessions: async_sessionmaker[AsyncSession], keystore: KeyStore
) -> None:
    message = await accepted(sessions, "t-5", Action.SELECT)
    inbox = InboxDispatcher(sessions, {}, keystore)
    await inbox.resume()

    async def failed() -> bool:
        return await states(sessions, message) == [ProcessingState.FAILED]

    await wait_for(failed)
    async with sessions() as session:
        record = await MessageLogRepository(session).get(message.record_id)
    assert record is not None and record.processing_error == "LookupError: no handler for select"
    await inbox.stop()
