"""The outbox worker against a real receiver on a real port: signed once, retried, refused, expired, shared.

The receiver is a small FastAPI app on uvicorn that records every request (and checks its signature)
and answers from a per-test plan: ACK, NACK, 500, hang, 202 with the context echoed, …
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from participant.db import make_engine, make_session_factory, new_id, utcnow
from participant.messagelog import MessageLogRepository
from participant.outbox import (
    DeliveryOutcome,
    OutboxEntry,
    OutboxRepository,
    OutboxStatus,
    OutboxWorker,
    enqueue,
)
from registry_client.errors import SignatureError
from registry_client.keys import Identity, generate_identity
from registry_client.signing import BecknAuth, verify_signature
from tests.support.servers import REPO_ROOT, ThreadedServer

SessionFactory = async_sessionmaker[AsyncSession]
SENDER = "bpp.degflex.test"
RECEIVER = "bap.degflex.test"


# -- the receiver ------------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    body: bytes
    headers: dict[str, str]
    signature: str  # "valid" or why not


@dataclass
class Receiver:
    """Answers each request with the next behaviour in `plan` (the last one repeats)."""

    public_key: str
    plan: list[str] = field(default_factory=lambda: ["ack"])
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def next_behaviour(self) -> str:
        return self.plan.pop(0) if len(self.plan) > 1 else self.plan[0]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{action}")
        async def receive(action: str, request: Request) -> Response:
            body = await request.body()
            self.received.append(
                Received(f"/{action}", body, dict(request.headers), self._verdict(body, request))
            )
            behaviour = self.next_behaviour()
            if behaviour in ("hang", "slow-ack"):
                while not self.release.is_set():
                    await asyncio.sleep(0.01)
                if behaviour == "hang":
                    return Response(status_code=504)
                behaviour = "ack"
            return _answer(behaviour, body)

        return app

    def _verdict(self, body: bytes, request: Request) -> str:
        try:
            verify_signature(body, request.headers["authorization"], self.public_key)
        except (KeyError, SignatureError) as exc:
            return f"invalid: {exc}"
        return "valid"

    def message_ids(self) -> list[str]:
        return [json.loads(request.body)["context"]["message_id"] for request in self.received]


def _ack(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"message": {"ack": {"status": "ACK"}}, **(body or {})}


def _nack(code: str) -> dict[str, Any]:
    return {
        "message": {"ack": {"status": "NACK"}},
        "error": {"code": code, "message": f"refused with {code}"},
    }


def _answer(behaviour: str, body: bytes) -> Response:
    context = json.loads(body)["context"]
    answers: dict[str, tuple[int, object]] = {
        "ack": (200, _ack()),
        "ack-202-context": (202, _ack({"context": context})),
        "empty-200": (200, None),
        "nack-30004": (200, _nack("30004")),
        "nack-400": (400, _nack("30000")),
        "nack-20002": (409, _nack("20002")),
        "nack-30022": (409, _nack("30022")),
        "500": (500, {"error": "boom"}),
        "429": (429, None),
        "404": (404, None),
    }
    status, payload = answers[behaviour]
    content = b"" if payload is None else json.dumps(payload).encode()
    return Response(content=content, status_code=status, media_type="application/json")


# -- fixtures and helpers ----------------------------------------------------------------------------


@pytest.fixture
def identity() -> Identity:
    return generate_identity(SENDER)


@pytest.fixture
def receiver(identity: Identity) -> Iterator[Receiver]:
    receiver = Receiver(public_key=identity.signing_public_key)
    with ThreadedServer(receiver.app()) as server:
        receiver.url = server.url
        yield receiver
        receiver.release.set()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[SessionFactory]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
def auth(identity: Identity) -> BecknAuth:
    return BecknAuth(identity.signing_private_key, identity.subscriber_id, identity.unique_key_id)


class Outcomes:
    """`on_outcome` hook that lets a test await results instead of sleeping."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[DeliveryOutcome] = asyncio.Queue()
        self.seen: list[DeliveryOutcome] = []

    async def __call__(self, outcome: DeliveryOutcome) -> None:
        self.seen.append(outcome)
        await self.queue.put(outcome)

    async def next(self, timeout: float = 15.0) -> DeliveryOutcome:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def finals(self, count: int, timeout: float = 30.0) -> list[DeliveryOutcome]:
        finals: list[DeliveryOutcome] = []
        while len(finals) < count:
            outcome = await self.next(timeout)
            if outcome.final:
                finals.append(outcome)
        return finals


def beckn_body(message_id: str, transaction_id: str) -> bytes:
    context = {
        "domain": "deg:demand-flex",
        "action": "on_search",
        "version": "1.1.0",
        "bap_id": RECEIVER,
        "bpp_id": SENDER,
        "transaction_id": transaction_id,
        "message_id": message_id,
        "timestamp": "2026-11-21T05:36:11.123Z",
    }
    return json.dumps({"context": context, "message": {"catalog": {}}}, separators=(",", ":")).encode()


async def enqueue_one(
    sessions: SessionFactory,
    target: str,
    *,
    expires_in: float = 60.0,
    wake: Callable[[], None] | None = None,
) -> OutboxEntry:
    async with sessions() as session, session.begin():
        return await enqueue_for(session, target, new_id(), expires_in=expires_in, wake=wake)


async def enqueue_for(
    session: AsyncSession,
    target: str,
    transaction_id: str,
    *,
    expires_in: float = 60.0,
    wake: Callable[[], None] | None = None,
) -> OutboxEntry:
    """An on_search of `transaction_id` for `target`, queued in the caller's transaction."""
    message_id = new_id()
    return await enqueue(
        session,
        action="on_search",
        body=beckn_body(message_id, transaction_id),
        target_url=f"{target}/on_search",
        counterparty=RECEIVER,
        transaction_id=transaction_id,
        message_id=message_id,
        bap_id=RECEIVER,
        bpp_id=SENDER,
        expires_at=utcnow() + timedelta(seconds=expires_in),
        wake=wake,
    )


async def load(sessions: SessionFactory, entry_id: str) -> OutboxEntry:
    async with sessions() as session:
        entry = await OutboxRepository(session).get(entry_id)
    assert entry is not None
    return entry


async def attempts_of(sessions: SessionFactory, entry_id: str) -> list[Any]:
    async with sessions() as session:
        return await OutboxRepository(session).attempts(entry_id)


@pytest.fixture
def make_worker(
    sessions: SessionFactory, client: httpx.AsyncClient, auth: BecknAuth
) -> Generator[Callable[..., OutboxWorker], None, None]:
    def make(**options: Any) -> OutboxWorker:
        options.setdefault("poll_seconds", 0.2)
        return OutboxWorker(sessions, client, auth, **options)

    yield make


async def eventually(
    predicate: Callable[[], Awaitable[object]], *, timeout: float = 15.0, what: str = ""
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


# -- delivery ----------------------------------------------------------------------------------------


async def test_delivered_once_with_a_valid_signature(
    sessions: SessionFactory, receiver: Receiver, make_worker: Callable[..., OutboxWorker]
) -> None:
    entry = await enqueue_one(sessions, receiver.url)
    worker = make_worker()

    assert await worker.run_once() == 1
    assert await worker.run_once() == 0

    assert len(receiver.received) == 1
    request = receiver.received[0]
    async with sessions() as session:
        record = await MessageLogRepository(session).get(entry.message_record_id)
    assert record is not None
    assert request.path == "/on_search"
    assert request.body == record.body  # the stored bytes, untouched
    assert request.signature == "valid"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["digest"].startswith("BLAKE-512=")

    delivered = await load(sessions, entry.id)
    assert delivered.status is OutboxStatus.DELIVERED
    assert delivered.attempts == 1 and delivered.delivered_at is not None
    assert delivered.lease_owner is None and delivered.lease_until is None
    assert delivered.http_status == 200 and delivered.ack_status == "ACK"
    (attempt,) = await attempts_of(sessions, entry.id)
    assert attempt.attempt == 1 and attempt.http_status == 200 and attempt.ack_status == "ACK"
    assert attempt.authorization == request.headers["authorization"]
    assert record.headers["authorization"] == request.headers["authorization"]
    assert record.headers["digest"] == request.headers["digest"]
    assert record.signature_verdict == "signed"
    assert (record.http_status, record.ack_status) == (200, "ACK")


async def test_a_commit_wakes_an_idle_worker_at_once(
    sessions: SessionFactory, receiver: Receiver, make_worker: Callable[..., OutboxWorker]
) -> None:
    outcomes = Outcomes()
    worker = make_worker(poll_seconds=60, on_outcome=outcomes)
    await worker.start()
    try:
        await enqueue_one(sessions, receiver.url, wake=worker.wake)
        await outcomes.finals(1, timeout=10)  # the worker found nothing more and sleeps for 60 s now
        entry = await enqueue_one(sessions, receiver.url, wake=worker.wake)
        (final,) = await outcomes.finals(1, timeout=10)  # far less than the 60 s poll
    finally:
        await worker.stop()
    assert (final.entry_id, final.status) == (entry.id, OutboxStatus.DELIVERED)


@pytest.mark.parametrize("answer", ["ack-202-context", "empty-200"])
async def test_any_2xx_ack_counts_with_or_without_an_echoed_context(
    answer: str, sessions: SessionFactory, receiver: Receiver, make_worker: Callable[..., OutboxWorker]
) -> None:
    receiver.plan = [answer]
    entry = await enqueue_one(sessions, receiver.url)
    assert await make_worker().run_once() == 1
    assert (await load(sessions, entry.id)).status is OutboxStatus.DELIVERED


async def test_retries_with_backoff_after_500_then_ack(
    sessions: SessionFactory, receiver: Receiver, make_worker: Callable[..., OutboxWorker]
) -> None:
    receiver.plan = ["500", "500", "ack"]
    base = 0.2
    schedule: list[tuple[int, OutboxStatus, datetime]] = []
    outcomes = Outcomes()

    async def observe(outcome: DeliveryOutcome) -> None:
        entry = await load(sessions, outcome.entry_id)  # committed before the hook runs
        schedule.append((outcome.attempt, entry.status, entry.next_attempt_at))
        await outcomes(outcome)

    # A long poll: the worker must come back for each retry when it is due, not at its next poll.
    worker = make_worker(backoff_base=base, backoff_max=5.0, poll_seconds=60, on_outcome=observe)
    await worker.start()
    try:
        entry = await enqueue_one(sessions, receiver.url, wake=worker.wake)
        (final,) = await outcomes.finals(1)
    finally:
        await worker.stop()

    assert final.status is OutboxStatus.DELIVERED and final.attempt == 3
    attempts = await attempts_of(sessions, entry.id)
    assert [(a.attempt, a.http_status) for a in attempts] == [(1, 500), (2, 500), (3, 200)]
    assert [status for _, status, _ in schedule] == [
        OutboxStatus.PENDING,
        OutboxStatus.PENDING,
        OutboxStatus.DELIVERED,
    ]
    for number in (1, 2):
        finished = attempts[number - 1].finished_at
        planned = schedule[number - 1][2]
        assert finished <= planned <= finished + timedelta(seconds=base * 2 ** (number - 1))
        assert attempts[number].started_at >= planned  # not sent again before it was due
    assert len(receiver.received) == 3 and len(set(receiver.message_ids())) == 1
    assert all(request.signature == "valid" for request in receiver.received)


@pytest.mark.parametrize("answer", ["nack-30004", "nack-400", "404"])
async def test_a_nack_is_final(
    answer: str, sessions: SessionFactory, receiver: Receiver, make_worker: Callable[..., OutboxWorker]
) -> None:
    receiver.plan = [answer]
    entry = await enqueue_one(sessions, receiver.url)
    worker = make_worker()
    assert await worker.run_once() == 1
    assert await worker.run_once() == 0

    nacked = await load(sessions, entry.id)
    assert nacked.status is OutboxStatus.NACKED
    assert len(receiver.received) == 1
    async with sessions() as session:
        record = await MessageLogRepository(session).get(entry.message_record_id)
    assert record is not None
    if answer != "404":
        assert nacked.ack_status == record.ack_status == "NACK"
        assert nacked.error_code == record.error_code
        assert record.error_message is not None and record.error_message.startswith("refused with")


async def test_a_duplicate_nack_on_a_retry_counts_as_delivered(
    sessions: SessionFactory, receiver: Receiver, make_worker: Callable[..., OutboxWorker]
) -> None:
    """The first attempt arrived but its answer was lost: the receiver now says "already have it"."""
    receiver.plan = ["429", "nack-20002"]
    entry = await enqueue_one(sessions, receiver.url)
    worker = make_worker(backoff_base=0.01, backoff_max=0.01)
    assert await worker.run_once() == 1
    await eventually(lambda: worker.run_once(), what="the retry")  # due within 10 ms

    delivered = await load(sessions, entry.id)
    assert delivered.status is OutboxStatus.DELIVERED and delivered.attempts == 2
    assert delivered.error_code == "20002"
    assert delivered.last_error is not None and "already had" in delivered.last_error


async def test_a_duplicate_nack_on_the_first_attempt_is_a_plain_nack(
    sessions: SessionFactory, receiver: Receiver, make_worker: Callable[..., OutboxWorker]
) -> None:
    receiver.plan = ["nack-30022"]
    entry = await enqueue_one(sessions, receiver.url)
    assert await make_worker().run_once() == 1
    assert (await load(sessions, entry.id)).status is OutboxStatus.NACKED


async def test_retries_stop_at_expiry(
    sessions: SessionFactory, receiver: Receiver, make_worker: Callable[..., OutboxWorker]
) -> None:
    receiver.plan = ["500"]
    outcomes = Outcomes()
    worker = make_worker(backoff_base=0.05, backoff_max=0.2, poll_seconds=60, on_outcome=outcomes)
    await worker.start()
    try:
        entry = await enqueue_one(sessions, receiver.url, expires_in=1.0, wake=worker.wake)
        (final,) = await outcomes.finals(1)
    finally:
        await worker.stop()

    assert final.status is OutboxStatus.EXPIRED
    expired = await load(sessions, entry.id)
    assert expired.status is OutboxStatus.EXPIRED
    attempts = await attempts_of(sessions, entry.id)
    assert len(attempts) >= 2 and len(receiver.received) == len(attempts) == expired.attempts
    assert all(attempt.started_at < expired.expires_at for attempt in attempts)
    assert await make_worker().run_once() == 0
    assert len(receiver.received) == len(attempts)


async def test_an_entry_expired_before_its_first_attempt_is_never_sent(
    sessions: SessionFactory, receiver: Receiver, make_worker: Callable[..., OutboxWorker]
) -> None:
    entry = await enqueue_one(sessions, receiver.url, expires_in=-1.0)
    outcomes = Outcomes()
    assert await make_worker(on_outcome=outcomes).run_once() == 0
    assert (await load(sessions, entry.id)).status is OutboxStatus.EXPIRED
    assert [(o.entry_id, o.status, o.final) for o in outcomes.seen] == [
        (entry.id, OutboxStatus.EXPIRED, True)
    ]
    assert receiver.received == []


async def test_a_timeout_is_retried(sessions: SessionFactory, receiver: Receiver, auth: BecknAuth) -> None:
    receiver.plan = ["hang", "ack"]
    entry = await enqueue_one(sessions, receiver.url)
    async with httpx.AsyncClient(timeout=0.5) as impatient:
        worker = OutboxWorker(sessions, impatient, auth, backoff_base=0.01, backoff_max=0.01)
        assert await worker.run_once() == 1
        pending = await load(sessions, entry.id)
        assert pending.status is OutboxStatus.PENDING and pending.http_status is None
        assert pending.last_error is not None and "Timeout" in pending.last_error
        await eventually(lambda: worker.run_once(), what="the retry")
    assert (await load(sessions, entry.id)).status is OutboxStatus.DELIVERED


async def test_an_unreachable_receiver_is_retried(
    sessions: SessionFactory, make_worker: Callable[..., OutboxWorker]
) -> None:
    from tests.support.servers import free_port

    entry = await enqueue_one(sessions, f"http://127.0.0.1:{free_port()}")
    assert await make_worker().run_once() == 1
    pending = await load(sessions, entry.id)
    assert pending.status is OutboxStatus.PENDING and pending.attempts == 1
    assert pending.last_error is not None and "ConnectError" in pending.last_error
    (attempt,) = await attempts_of(sessions, entry.id)
    assert attempt.http_status is None and attempt.authorization is not None


# -- transactions ------------------------------------------------------------------------------------


async def test_a_callback_enqueued_in_a_rolled_back_transaction_is_never_sent(
    sessions: SessionFactory, receiver: Receiver, make_worker: Callable[..., OutboxWorker]
) -> None:
    wakes: list[str] = []
    async with sessions() as session:
        await enqueue(
            session,
            action="on_confirm",
            body=beckn_body(new_id(), new_id()),
            target_url=f"{receiver.url}/on_confirm",
            counterparty=RECEIVER,
            transaction_id=new_id(),
            message_id=new_id(),
            bap_id=RECEIVER,
            bpp_id=SENDER,
            expires_at=utcnow() + timedelta(minutes=1),
            wake=lambda: wakes.append("woken"),
        )
        await session.rollback()

    assert wakes == []
    assert await make_worker().run_once() == 0
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEntry)) == 0
    assert receiver.received == []


async def test_the_worker_is_woken_only_after_the_commit(
    sessions: SessionFactory, receiver: Receiver
) -> None:
    wakes: list[bool] = []
    async with sessions() as session:
        async with session.begin():
            await enqueue(
                session,
                action="on_search",
                body=beckn_body(new_id(), new_id()),
                target_url=f"{receiver.url}/on_search",
                counterparty=RECEIVER,
                transaction_id=None,
                message_id=None,
                bap_id=RECEIVER,
                bpp_id=SENDER,
                expires_at=utcnow() + timedelta(minutes=1),
                wake=lambda: wakes.append(True),
            )
            assert wakes == []
        assert wakes == [True]


# -- robustness --------------------------------------------------------------------------------------


class ExplodingAuth(httpx.Auth):
    """Stands in for a bug on our side for one particular message."""

    requires_request_body = True

    def __init__(self, inner: httpx.Auth, poison: str) -> None:
        self.inner, self.poison = inner, poison

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.poison.encode() in request.content:
            raise RuntimeError("signing bug")
        yield from self.inner.auth_flow(request)


async def test_a_bug_in_one_delivery_fails_that_entry_and_the_loop_goes_on(
    sessions: SessionFactory, receiver: Receiver, client: httpx.AsyncClient, auth: BecknAuth
) -> None:
    poisoned = await enqueue_one(sessions, receiver.url)
    async with sessions() as session:
        record = await MessageLogRepository(session).get(poisoned.message_record_id)
    assert record is not None and record.message_id is not None
    outcomes = Outcomes()
    worker = OutboxWorker(
        sessions, client, ExplodingAuth(auth, record.message_id), poll_seconds=0.2, on_outcome=outcomes
    )
    await worker.start()
    try:
        healthy = await enqueue_one(sessions, receiver.url, wake=worker.wake)
        finals = {outcome.entry_id: outcome for outcome in await outcomes.finals(2)}
        later = await enqueue_one(sessions, receiver.url, wake=worker.wake)
        finals.update({outcome.entry_id: outcome for outcome in await outcomes.finals(1)})
    finally:
        await worker.stop()

    assert finals[poisoned.id].status is OutboxStatus.FAILED
    assert finals[poisoned.id].error_message == "RuntimeError: signing bug"
    failed = await load(sessions, poisoned.id)
    assert failed.status is OutboxStatus.FAILED and failed.last_error == "RuntimeError: signing bug"
    assert finals[healthy.id].status is finals[later.id].status is OutboxStatus.DELIVERED
    assert len(receiver.received) == 2


async def test_stop_finishes_in_flight_deliveries_and_releases_leases(
    sessions: SessionFactory, receiver: Receiver, make_worker: Callable[..., OutboxWorker]
) -> None:
    receiver.plan = ["slow-ack"]
    worker = make_worker()
    await worker.start()
    entry = await enqueue_one(sessions, receiver.url, wake=worker.wake)
    await eventually(lambda: _received(receiver, 1), what="the delivery to arrive")
    stopping = asyncio.create_task(worker.stop())
    await eventually(lambda: _leased(sessions, entry.id), what="the lease to be visible")
    assert not stopping.done()
    receiver.release.set()
    await stopping

    done = await load(sessions, entry.id)
    assert done.status is OutboxStatus.DELIVERED
    assert done.lease_owner is None and done.lease_until is None


async def _received(receiver: Receiver, count: int) -> bool:
    return len(receiver.received) >= count


async def _leased(sessions: SessionFactory, entry_id: str) -> bool:
    return (await load(sessions, entry_id)).lease_owner is not None


# -- several workers ---------------------------------------------------------------------------------


async def test_two_workers_never_deliver_the_same_entry_twice(
    database_url: str, receiver: Receiver, sessions: SessionFactory, auth: BecknAuth
) -> None:
    """Two replicas (own engines, own clients) drain one outbox: every entry is sent exactly once."""
    entries = [await enqueue_one(sessions, receiver.url) for _ in range(60)]
    outcomes = Outcomes()
    engines = [make_engine(database_url) for _ in range(2)]
    clients = [httpx.AsyncClient(timeout=5.0) for _ in range(2)]
    workers = [
        OutboxWorker(
            make_session_factory(engine),
            client,
            auth,
            worker_id=f"replica-{index}",
            batch_size=4,
            concurrency=4,
            poll_seconds=0.05,
            on_outcome=outcomes,
        )
        for index, (engine, client) in enumerate(zip(engines, clients, strict=True))
    ]
    try:
        await asyncio.gather(*(worker.start() for worker in workers))
        finals = await outcomes.finals(len(entries))
    finally:
        await asyncio.gather(*(worker.stop() for worker in workers))
        for client in clients:
            await client.aclose()
        for engine in engines:
            await engine.dispose()

    assert sorted(outcome.entry_id for outcome in finals) == sorted(entry.id for entry in entries)
    assert all(outcome.status is OutboxStatus.DELIVERED and outcome.attempt == 1 for outcome in finals)
    message_ids = receiver.message_ids()
    assert len(message_ids) == len(entries) == len(set(message_ids))
    async with sessions() as session:
        attempts = await session.scalar(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.attempts != 1)
        )
    assert attempts == 0


async def test_concurrent_claims_take_disjoint_entries(
    database_url: str, sessions: SessionFactory, receiver: Receiver
) -> None:
    """Claims racing from several connections never lease one entry twice."""
    entries = {(await enqueue_one(sessions, receiver.url)).id for _ in range(30)}
    engines = [make_engine(database_url) for _ in range(6)]

    async def claim(engine: Any, worker_id: str) -> list[str]:
        now = utcnow()
        async with make_session_factory(engine)() as session, session.begin():
            claimed = await OutboxRepository(session).claim(
                worker_id=worker_id, now=now, lease_until=now + timedelta(seconds=30), limit=5
            )
        return [delivery.entry_id for delivery in claimed]

    try:
        batches = await asyncio.gather(*(claim(engine, f"w{index}") for index, engine in enumerate(engines)))
    finally:
        for engine in engines:
            await engine.dispose()
    claimed = [entry_id for batch in batches for entry_id in batch]
    assert len(claimed) == len(set(claimed)) == 30
    assert set(claimed) == entries


DOOMED_WORKER = """
import asyncio, sys
import httpx
from participant.db import make_engine, make_session_factory
from participant.outbox import OutboxWorker
from registry_client.signing import BecknAuth

async def main(url, key, subscriber_id, unique_key_id):
    engine = make_engine(url)
    async with httpx.AsyncClient(timeout=60) as client:
        auth = BecknAuth(key, subscriber_id, unique_key_id)
        factory = make_session_factory(engine)
        worker = OutboxWorker(factory, client, auth, worker_id="doomed", lease_seconds=3.0)
        await worker.run_once()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_dead_workers_lease_runs_out_and_another_worker_finishes_the_job(
    database_url: str,
    sessions: SessionFactory,
    receiver: Receiver,
    identity: Identity,
    make_worker: Callable[..., OutboxWorker],
) -> None:
    receiver.plan = ["hang", "nack-30022"]  # the receiver got the first copy; the retry is a duplicate
    entry = await enqueue_one(sessions, receiver.url)
    doomed = subprocess.Popen(
        [
            sys.executable,
            "-c",
            DOOMED_WORKER,
            database_url,
            identity.signing_private_key,
            identity.subscriber_id,
            identity.unique_key_id,
        ],
        cwd=REPO_ROOT,
        env=dict(os.environ),
    )
    try:
        await eventually(lambda: _received(receiver, 1), what="the doomed worker's delivery")
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)

    leased = await load(sessions, entry.id)
    assert leased.lease_owner == "doomed" and leased.attempts == 1 and leased.status is OutboxStatus.PENDING
    rescuer = make_worker(worker_id="rescuer")
    assert await rescuer.run_once() == 0  # the lease still holds
    await eventually(lambda: rescuer.run_once(), what="the lease to run out", timeout=15)

    rescued = await load(sessions, entry.id)
    assert rescued.status is OutboxStatus.DELIVERED and rescued.attempts == 2
    assert rescued.lease_owner is None
    assert [a.attempt for a in await attempts_of(sessions, entry.id)] == [2]
    assert len(receiver.received) == 2 and len(set(receiver.message_ids())) == 1


# -- order within a transaction ----------------------------------------------------------------------


async def test_messages_of_one_transaction_arrive_in_the_order_they_were_queued(
    sessions: SessionFactory, receiver: Receiver, make_worker: Callable[..., OutboxWorker]
) -> None:
    """Two callbacks written together (a verdict and its settlement): the second waits for the first to
    be delivered, through the first one's retries; another transaction is not held up meanwhile."""
    receiver.plan = ["hang", "ack"]
    outcomes = Outcomes()
    worker = make_worker(backoff_base=0.1, poll_seconds=60, on_outcome=outcomes)
    transaction, other = new_id(), new_id()
    await worker.start()
    try:
        async with sessions() as session, session.begin():
            first = await enqueue_for(session, receiver.url, transaction)
        worker.wake()

        async def first_sent() -> bool:
            return len(receiver.received) == 1

        await eventually(first_sent, what="the first message to reach the receiver")
        async with sessions() as session, session.begin():
            second = await enqueue_for(session, receiver.url, transaction)
            unrelated = await enqueue_for(session, receiver.url, other)
        worker.wake()
        delivered = await outcomes.next()
        assert (delivered.entry_id, delivered.status) == (unrelated.id, OutboxStatus.DELIVERED)
        assert [request.body for request in receiver.received][0] == first.message.body
        assert len(receiver.received) == 2, "the second message of the transaction waits for the first"

        receiver.release.set()  # the first attempt times out (504) and is retried
        finals = await outcomes.finals(2)
    finally:
        await worker.stop()

    assert [outcome.entry_id for outcome in finals] == [first.id, second.id]
    assert all(outcome.status is OutboxStatus.DELIVERED for outcome in finals)
    ids = {first.message.message_id: "first", second.message.message_id: "second"}
    ids[unrelated.message.message_id] = "unrelated"
    assert [ids[message_id] for message_id in receiver.message_ids()] == [
        "first",
        "unrelated",
        "first",
        "second",
    ]
