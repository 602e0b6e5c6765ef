"""The message log: exact bytes kept, inbound dedupe by (sender, message_id) enforced by the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from participant.db import make_engine, make_session_factory, new_id, utcnow
from participant.messagelog import (
    Direction,
    DuplicateMessage,
    MessageLogRepository,
    MessageNotFound,
    MessageRecord,
    ProcessingState,
)

SessionFactory = async_sessionmaker[AsyncSession]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    await engine.dispose()


def inbound(**overrides: Any) -> dict[str, Any]:
    """Arguments of one received message; override what a test is about."""
    message_id = overrides.pop("message_id", new_id())
    values: dict[str, Any] = {
        "action": "search",
        "body": b'{"context":{"message_id":"%s"},"message":{}}' % message_id.encode(),
        "headers": {
            "authorization": 'Signature keyId="bap.example|k1|ed25519"',
            "content-type": "application/json",
        },
        "url": "/search",
        "counterparty": "bap.example",
        "transaction_id": "txn-1",
        "message_id": message_id,
        "bap_id": "bap.example",
        "bpp_id": "bpp.example",
        "signature_verdict": "valid",
        "http_status": 200,
        "ack_status": "ACK",
        "accepted": True,
    }
    values.update(overrides)
    return values


async def count_accepted(sessions: SessionFactory) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(MessageRecord).where(MessageRecord.dedupe_key.is_not(None))
        return int(await session.scalar(query) or 0)


async def test_an_accepted_message_is_stored_byte_for_byte_and_enters_the_inbox(
    sessions: SessionFactory,
) -> None:
    arguments = inbound(body=b'{"a": 1,  "b":"\xc3\xa9"}\n')
    async with sessions() as session, session.begin():
        record = await MessageLogRepository(session).record_inbound(**arguments)

    async with sessions() as session:
        stored = await MessageLogRepository(session).get(record.id)
    assert stored is not None
    assert stored.body == b'{"a": 1,  "b":"\xc3\xa9"}\n'
    assert stored.direction is Direction.INBOUND
    assert stored.headers == arguments["headers"]
    assert stored.processing_state is ProcessingState.PENDING
    assert stored.dedupe_key == f"bap.example|{arguments['message_id']}"
    assert stored.created_at.tzinfo is not None


async def test_the_same_sender_and_message_id_is_a_duplicate(sessions: SessionFactory) -> None:
    first = inbound()
    async with sessions() as session, session.begin():
        await MessageLogRepository(session).record_inbound(**first)

    async with sessions() as session, session.begin():
        repository = MessageLogRepository(session)
        assert await repository.is_duplicate("bap.example", first["message_id"])
        with pytest.raises(DuplicateMessage) as refused:
            await repository.record_inbound(**inbound(message_id=first["message_id"]))
    assert refused.value.counterparty == "bap.example"
    assert refused.value.message_id == first["message_id"]
    assert await count_accepted(sessions) == 1


async def test_another_sender_may_reuse_a_message_id(sessions: SessionFactory) -> None:
    shared = new_id()
    async with sessions() as session, session.begin():
        repository = MessageLogRepository(session)
        await repository.record_inbound(**inbound(message_id=shared, counterparty="bap.one"))
        await repository.record_inbound(**inbound(message_id=shared, counterparty="bap.two"))
        assert not await repository.is_duplicate("bap.three", shared)
    assert await count_accepted(sessions) == 2


async def test_refused_messages_are_logged_but_never_block_the_real_one(sessions: SessionFactory) -> None:
    """A NACKed copy (bad signature, say) must not take the (sender, message_id) slot."""
    message_id = new_id()
    async with sessions() as session, session.begin():
        repository = MessageLogRepository(session)
        for _ in range(2):
            refused = await repository.record_inbound(
                **inbound(
                    message_id=message_id,
                    accepted=False,
                    signature_verdict="bad signature",
                    http_status=401,
                    ack_status="NACK",
                    error_code="30016",
                    error_message="signature does not verify",
                )
            )
            assert refused.dedupe_key is None and refused.processing_state is None
        accepted = await repository.record_inbound(**inbound(message_id=message_id))
    assert accepted.processing_state is ProcessingState.PENDING


async def test_a_duplicate_leaves_the_session_and_its_transaction_usable(sessions: SessionFactory) -> None:
    earlier = inbound()
    async with sessions() as session, session.begin():
        await MessageLogRepository(session).record_inbound(**earlier)

    async with sessions() as session, session.begin():
        repository = MessageLogRepository(session)
        kept = await repository.record_inbound(**inbound())
        with pytest.raises(DuplicateMessage):
            await repository.record_inbound(**inbound(message_id=earlier["message_id"]))
        after = await repository.record_inbound(**inbound())

    async with sessions() as session:
        repository = MessageLogRepository(session)
        assert await repository.get(kept.id) is not None
        assert await repository.get(after.id) is not None
    assert await count_accepted(sessions) == 3


async def test_a_rolled_back_accept_frees_the_message_id(sessions: SessionFactory) -> None:
    arguments = inbound()
    async with sessions() as session:
        await MessageLogRepository(session).record_inbound(**arguments)
        await session.rollback()
    async with sessions() as session, session.begin():
        await MessageLogRepository(session).record_inbound(**arguments)
    assert await count_accepted(sessions) == 1


async def test_concurrent_accepts_of_one_message_let_exactly_one_win(sessions: SessionFactory) -> None:
    """Two replicas receiving the same message at once: one accepts it, the other sees a duplicate."""
    message_ids = [new_id() for _ in range(20)]

    async def accept(message_id: str) -> str:
        try:
            async with sessions() as session, session.begin():
                await MessageLogRepository(session).record_inbound(**inbound(message_id=message_id))
        except DuplicateMessage:
            return "duplicate"
        return "accepted"

    results = await asyncio.gather(*(accept(message_id) for message_id in message_ids for _ in range(2)))
    for index in range(len(message_ids)):
        assert sorted(results[2 * index : 2 * index + 2]) == ["accepted", "duplicate"]
    assert await count_accepted(sessions) == len(message_ids)


async def test_a_waiting_duplicate_is_refused_once_the_first_commits(
    sessions: SessionFactory, database_url: str
) -> None:
    """The second INSERT blocks on the first's uncommitted row and fails on the constraint at its commit."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time; only PostgreSQL lets a second INSERT wait on a row")
    arguments = inbound()
    first = sessions()
    await first.begin()
    await MessageLogRepository(first).record_inbound(**arguments)

    async def second() -> None:
        async with sessions() as session, session.begin():
            await MessageLogRepository(session).record_inbound(**arguments)

    racer = asyncio.create_task(second())
    await eventually(lambda: _lock_waiters(sessions), what="the second INSERT waiting on the first")
    assert not racer.done()
    await first.commit()
    await first.close()
    with pytest.raises(DuplicateMessage):
        await racer
    assert await count_accepted(sessions) == 1


async def _lock_waiters(sessions: SessionFactory) -> bool:
    async with sessions() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


async def eventually(
    predicate: Callable[[], Awaitable[bool]], *, timeout: float = 10.0, what: str = ""
) -> None:
    """Poll an async condition until it holds (the event loop keeps running meanwhile)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


async def test_pending_inbound_in_arrival_order_until_processed(sessions: SessionFactory) -> None:
    async with sessions() as session, session.begin():
        repository = MessageLogRepository(session)
        records = [await repository.record_inbound(**inbound()) for _ in range(3)]
        await repository.record_inbound(**inbound(accepted=False, ack_status="NACK"))

    async with sessions() as session, session.begin():
        repository = MessageLogRepository(session)
        assert [record.id for record in await repository.pending_inbound()] == [r.id for r in records]
        assert [record.id for record in await repository.pending_inbound(limit=2)] == [
            r.id for r in records[:2]
        ]
        await repository.mark_processed(records[0].id)
        await repository.mark_processed(records[1].id, error="handler raised KeyError('order')")

    async with sessions() as session:
        repository = MessageLogRepository(session)
        assert [record.id for record in await repository.pending_inbound()] == [records[2].id]
        done = await repository.get(records[0].id)
        failed = await repository.get(records[1].id)
    assert done is not None and done.processing_state is ProcessingState.DONE
    assert done.processed_at is not None and done.processing_error is None
    assert failed is not None and failed.processing_state is ProcessingState.FAILED
    assert failed.processing_error == "handler raised KeyError('order')"


async def test_marking_an_unknown_message_is_an_error(sessions: SessionFactory) -> None:
    async with sessions() as session, session.begin():
        with pytest.raises(MessageNotFound):
            await MessageLogRepository(session).mark_processed(new_id())


async def test_a_transaction_reads_back_in_order_and_search_filters(sessions: SessionFactory) -> None:
    async with sessions() as session, session.begin():
        repository = MessageLogRepository(session)
        request = await repository.record_inbound(**inbound(transaction_id="txn-A"))
        callback = await repository.record_outbound(
            action="on_search",
            body=b"{}",
            headers={"content-type": "application/json"},
            url="http://bap.example/on_search",
            counterparty="bap.example",
            transaction_id="txn-A",
            message_id=request.message_id,
            bap_id="bap.example",
            bpp_id="bpp.example",
        )
        await repository.record_inbound(
            **inbound(transaction_id="txn-B", action="select", counterparty="bap.x")
        )

    async with sessions() as session:
        repository = MessageLogRepository(session)
        assert [r.id for r in await repository.for_transaction("txn-A")] == [request.id, callback.id]
        outbound = await repository.search(direction=Direction.OUTBOUND)
        assert [r.id for r in outbound] == [callback.id]
        assert outbound[0].processing_state is None and outbound[0].dedupe_key is None
        assert [r.action for r in await repository.search(counterparty="bap.x")] == ["select"]
        assert [r.id for r in await repository.search(transaction_id="txn-A", action="search")] == [
            request.id
        ]
        assert len(await repository.search(since=utcnow() - timedelta(minutes=1))) == 3
        assert await repository.search(since=utcnow() + timedelta(minutes=1)) == []
        assert len(await repository.search(limit=2)) == 2
