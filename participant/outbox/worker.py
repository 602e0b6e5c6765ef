"""Delivers outbox entries: lease due rows, POST the stored bytes signed, record each attempt, back off.

Delivery is at least once, and every attempt is recorded: a worker that dies mid-delivery leaves a lease
that runs out, after which another worker sends again, and the receiver's duplicate NACK on that retry
counts as delivered. Nothing from httpx, and no bug in one entry's delivery, stops the loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from participant.db import new_id, utcnow
from participant.outbox.models import OutboxStatus
from participant.outbox.policy import Reply, backoff_delay, judge, read_reply
from participant.outbox.repository import AttemptRecord, ClaimedDelivery, ExpiredEntry, OutboxRepository

log = logging.getLogger(__name__)

# Headers logged with a message as sent; the signature ones are set by `auth` at send time.
LOGGED_HEADERS = ("authorization", "x-gateway-authorization", "digest", "content-type")
_NOT_FORWARDED = frozenset({"authorization", "x-gateway-authorization", "digest", "content-length", "host"})


@dataclass(frozen=True)
class DeliveryOutcome:
    """One attempt's result, reported to `on_outcome` after it was committed (metrics, logs, tests)."""

    entry_id: str
    action: str
    target_url: str
    counterparty: str
    transaction_id: str | None
    message_id: str | None
    status: OutboxStatus
    attempt: int
    http_status: int | None
    ack_status: str | None
    error_code: str | None
    error_message: str | None
    seconds: float
    final: bool


OutcomeHook = Callable[[DeliveryOutcome], Awaitable[None]]


@dataclass(frozen=True)
class _Response:
    http_status: int | None
    reply: Reply
    error: str | None
    sent_headers: dict[str, str]


class OutboxWorker:
    """One delivery loop per process; several processes (replicas) may share one database."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        client: httpx.AsyncClient,
        auth: httpx.Auth,
        *,
        worker_id: str | None = None,
        poll_seconds: float = 1.0,
        batch_size: int = 50,
        backoff_base: float = 0.5,
        backoff_max: float = 60.0,
        lease_seconds: float = 30.0,
        concurrency: int = 16,
        on_outcome: OutcomeHook | None = None,
    ) -> None:
        if lease_seconds <= 0 or poll_seconds <= 0 or batch_size < 1 or concurrency < 1:
            raise ValueError(
                "lease_seconds and poll_seconds must be positive, batch_size and concurrency ≥ 1"
            )
        self.session_factory = session_factory
        self.client = client
        self.auth = auth
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{new_id()[:8]}"
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.lease_seconds = lease_seconds
        self.concurrency = concurrency
        self.on_outcome = on_outcome
        # An attempt must end before its lease does, or another worker could start the next one.
        self.attempt_deadline = lease_seconds * 0.8
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._runner: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for due entries now (e.g. from an `after_commit` hook); callable from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("this outbox worker is already running")
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._runner = asyncio.create_task(self._run(), name=f"outbox-worker:{self.worker_id}")

    async def stop(self) -> None:
        """Stop claiming, let in-flight deliveries finish and be recorded, then hand back any lease."""
        runner, self._runner = self._runner, None
        self._stopping = True
        self._wake.set()
        if runner is not None:
            await runner
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        try:
            async with self.session_factory() as session, session.begin():
                released = await OutboxRepository(session).release(worker_id=self.worker_id)
            if released:
                log.info("outbox worker released %d leases", released, extra={"worker_id": self.worker_id})
        except Exception:
            log.exception("outbox worker could not release its leases; they will time out")

    async def run_once(self) -> int:
        """Expire the stale, claim one batch, deliver it and wait for the results; returns the batch size.

        A batch is at most `concurrency` entries, so no leased entry waits for a free slot while its
        lease runs down.
        """
        claims = await self._claim(min(self.batch_size, self.concurrency))
        if claims:
            await asyncio.gather(*(self._deliver(claim) for claim in claims))
        return len(claims)

    # -- the loop --------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before claiming: a wake that lands during the claim is not lost
            free = self.concurrency - len(self._in_flight)
            limit = min(free, self.batch_size)
            claims: list[ClaimedDelivery] = []
            if limit > 0:
                try:
                    claims = await self._claim(limit)
                except Exception:
                    log.exception("outbox worker could not claim entries; retrying after the poll interval")
                for claim in claims:
                    task = asyncio.create_task(self._deliver(claim), name=f"outbox-delivery:{claim.entry_id}")
                    self._in_flight.add(task)
                    task.add_done_callback(self._delivery_done)
            if self._stopping:
                break
            room = free - len(claims)
            if claims and len(claims) == limit and room > 0:
                continue  # a full batch: more may be due right now
            await self._idle(wait_for_slot=room <= 0)

    async def _idle(self, *, wait_for_slot: bool) -> None:
        """Sleep until woken, the poll interval passes, or (when all slots are busy) a delivery ends."""
        woken = asyncio.ensure_future(self._wake.wait())
        waiters: set[asyncio.Future[Any]] = {woken}
        if wait_for_slot:
            waiters.update(self._in_flight)
        try:
            await asyncio.wait(waiters, timeout=self.poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()

    def _delivery_done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("outbox delivery task failed", exc_info=task.exception())

    # -- one batch, one delivery -----------------------------------------------------------------

    async def _claim(self, limit: int) -> list[ClaimedDelivery]:
        now = utcnow()
        async with self.session_factory() as session, session.begin():
            repository = OutboxRepository(session)
            expired = await repository.expire_due(now=now)
            claims = await repository.claim(
                worker_id=self.worker_id,
                now=now,
                lease_until=now + timedelta(seconds=self.lease_seconds),
                limit=limit,
            )
        for entry in expired:
            await self._report(_expired_outcome(entry))
        return claims

    async def _deliver(self, claim: ClaimedDelivery) -> None:
        """Send one claimed entry and record the result; a bug here parks the entry as FAILED."""
        started, clock = utcnow(), time.monotonic()
        try:
            if started >= claim.expires_at:
                outcome = await self._expire(claim, started)
            else:
                outcome = await self._attempt(claim, started, clock)
        except Exception as exc:
            log.exception("outbox delivery of %s failed inside degflex", claim.entry_id)
            outcome = await self._park(claim, f"{type(exc).__name__}: {exc}", time.monotonic() - clock)
        if outcome.final:
            self.wake()  # the next message of its transaction to the same URL may be waiting for it
        await self._report(outcome)

    async def _attempt(self, claim: ClaimedDelivery, started: datetime, clock: float) -> DeliveryOutcome:
        response = await self._post(claim)
        result = self._settle(claim, response, started)
        async with self.session_factory() as session, session.begin():
            owned = await OutboxRepository(session).finish(claim, worker_id=self.worker_id, result=result)
        if owned and result.next_attempt_at is not None:
            self._wake_at((result.next_attempt_at - utcnow()).total_seconds())
        if not owned:
            log.warning(
                "outbox entry %s changed hands during attempt %d; recorded as an attempt only",
                claim.entry_id,
                claim.attempt,
            )
        return _outcome(claim, result, time.monotonic() - clock)

    async def _expire(self, claim: ClaimedDelivery, now: datetime) -> DeliveryOutcome:
        async with self.session_factory() as session, session.begin():
            await OutboxRepository(session).expire_claimed(claim, worker_id=self.worker_id, now=now)
        return DeliveryOutcome(
            entry_id=claim.entry_id,
            action=claim.action,
            target_url=claim.target_url,
            counterparty=claim.counterparty,
            transaction_id=claim.transaction_id,
            message_id=claim.message_id,
            status=OutboxStatus.EXPIRED,
            attempt=claim.attempt - 1,
            http_status=None,
            ack_status=None,
            error_code=None,
            error_message="expired before it could be delivered",
            seconds=0.0,
            final=True,
        )

    async def _post(self, claim: ClaimedDelivery) -> _Response:
        headers = {name: value for name, value in claim.headers.items() if name not in _NOT_FORWARDED}
        headers["content-type"] = "application/json"
        request = self.client.build_request("POST", claim.target_url, content=claim.body, headers=headers)
        try:
            async with asyncio.timeout(self.attempt_deadline):
                response = await self.client.send(request, auth=self.auth)
        except httpx.HTTPError as exc:
            return _Response(None, Reply(None), _describe(exc), _logged_headers(request.headers))
        except TimeoutError:
            error = f"no answer within {self.attempt_deadline:.1f}s"
            return _Response(None, Reply(None), error, _logged_headers(request.headers))
        return _Response(
            response.status_code,
            read_reply(response.content),
            None,
            _logged_headers(response.request.headers),
        )

    def _settle(self, claim: ClaimedDelivery, response: _Response, started: datetime) -> AttemptRecord:
        finished = utcnow()
        next_attempt_at: datetime | None = None
        if response.http_status is None:
            status, note, error = None, None, response.error
        else:
            verdict = judge(response.http_status, response.reply, attempt=claim.attempt)
            status, note, error = verdict.status, verdict.note, response.reply.error_message
            if status is None and error is None:
                error = f"HTTP {response.http_status}"
        if status is None:
            delay = backoff_delay(claim.attempt, base=self.backoff_base, cap=self.backoff_max)
            next_attempt_at = finished + timedelta(seconds=delay)
            if next_attempt_at >= claim.expires_at:
                status, next_attempt_at = OutboxStatus.EXPIRED, None
                note = f"expired after {claim.attempt} attempts; last: {error}"
            else:
                status = OutboxStatus.PENDING
        return AttemptRecord(
            status=status,
            started_at=started,
            finished_at=finished,
            http_status=response.http_status,
            ack_status=response.reply.ack_status,
            error_code=response.reply.error_code,
            error_message=error,
            sent_headers=response.sent_headers,
            next_attempt_at=next_attempt_at,
            note=note,
        )

    def _wake_at(self, delay: float) -> None:
        """A retry due before the next poll is picked up on time, not at the poll."""
        if self._runner is not None and self._loop is not None and delay < self.poll_seconds:
            # A hair late rather than early: the claim compares against the wall clock.
            self._loop.call_later(max(delay, 0.0) + 0.005, self.wake)

    async def _park(self, claim: ClaimedDelivery, error: str, seconds: float) -> DeliveryOutcome:
        try:
            async with self.session_factory() as session, session.begin():
                await OutboxRepository(session).fail(claim.entry_id, worker_id=self.worker_id, error=error)
        except Exception:
            log.exception("could not mark outbox entry %s failed; its lease will time out", claim.entry_id)
        return DeliveryOutcome(
            entry_id=claim.entry_id,
            action=claim.action,
            target_url=claim.target_url,
            counterparty=claim.counterparty,
            transaction_id=claim.transaction_id,
            message_id=claim.message_id,
            status=OutboxStatus.FAILED,
            attempt=claim.attempt,
            http_status=None,
            ack_status=None,
            error_code=None,
            error_message=error,
            seconds=seconds,
            final=True,
        )

    async def _report(self, outcome: DeliveryOutcome) -> None:
        if self.on_outcome is None:
            return
        try:
            await self.on_outcome(outcome)
        except Exception:
            log.exception("outbox on_outcome hook failed for %s", outcome.entry_id)


def _logged_headers(headers: httpx.Headers) -> dict[str, str]:
    return {name: headers[name] for name in LOGGED_HEADERS if name in headers}


def _describe(exc: httpx.HTTPError) -> str:
    text = str(exc) or "no detail"
    return f"{type(exc).__name__}: {text}"


def _outcome(claim: ClaimedDelivery, result: AttemptRecord, seconds: float) -> DeliveryOutcome:
    return DeliveryOutcome(
        entry_id=claim.entry_id,
        action=claim.action,
        target_url=claim.target_url,
        counterparty=claim.counterparty,
        transaction_id=claim.transaction_id,
        message_id=claim.message_id,
        status=result.status,
        attempt=claim.attempt,
        http_status=result.http_status,
        ack_status=result.ack_status,
        error_code=result.error_code,
        error_message=result.error_message,
        seconds=seconds,
        final=result.status.final,
    )


def _expired_outcome(entry: ExpiredEntry) -> DeliveryOutcome:
    return DeliveryOutcome(
        entry_id=entry.entry_id,
        action=entry.action,
        target_url=entry.target_url,
        counterparty=entry.counterparty,
        transaction_id=entry.transaction_id,
        message_id=entry.message_id,
        status=OutboxStatus.EXPIRED,
        attempt=entry.attempts,
        http_status=None,
        ack_status=None,
        error_code=None,
        error_message="expired before it could be delivered",
        seconds=0.0,
        final=True,
    )
