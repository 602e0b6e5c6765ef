"""The inbox: runs each accepted message's `process` after the ACK, and again after a crash.

An accepted message is PENDING in the message log from the commit that ACKed it until its handler has run,
so `resume()` at start-up finds whatever a crash interrupted; nothing acknowledged is lost. Messages of
one transaction are processed in arrival order (an `on_status` never overtakes its `on_confirm`); different
transactions run concurrently up to a limit. A handler's failure is logged and stored, never raised.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from participant.inbound.handlers import ActionHandler, InboundMessage
from participant.logging import log_context
from participant.messagelog import MessageLogRepository, MessageRecord
from registry_client.errors import RegistryClientError, SignatureError
from registry_client.lookup import KeyStore, LookupQuery, Subscriber
from registry_client.signing import SignatureHeader
from schemas.core_v1 import Action, parse_envelope

log = logging.getLogger(__name__)


class InboxDispatcher:
    """Background `process` calls for accepted messages, each followed by `mark_processed`."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        handlers: Mapping[Action, ActionHandler],
        keystore: KeyStore,
        *,
        concurrency: int = 16,
        resume_limit: int = 10_000,
    ) -> None:
        self.session_factory = session_factory
        self.handlers = handlers
        self.keystore = keystore
        self.resume_limit = resume_limit
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._tails: dict[str, asyncio.Task[None]] = {}

    @property
    def busy(self) -> int:
        """Messages submitted and not yet finished."""
        return len(self._tasks)

    def submit(self, message: InboundMessage) -> None:
        """Run the handler's `process` in the background, after earlier messages of its transaction."""
        if message.record_id in self._tasks:
            return
        transaction_id = message.context.transaction_id
        previous = self._tails.get(transaction_id)
        task = asyncio.create_task(self._run(message, previous), name=f"inbox:{message.record_id}")
        self._tasks[message.record_id] = task
        self._tails[transaction_id] = task
        task.add_done_callback(lambda done: self._forget(message, done))

    def _forget(self, message: InboundMessage, task: asyncio.Task[None]) -> None:
        self._tasks.pop(message.record_id, None)
        if self._tails.get(message.context.transaction_id) is task:
            del self._tails[message.context.transaction_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("inbox task for %s failed", message.record_id, exc_info=task.exception())

    async def _run(self, message: InboundMessage, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        async with self._slots:
            with log_context(
                action=message.action.value,
                transaction_id=message.context.transaction_id,
                message_id=message.context.message_id,
                counterparty=message.sender,
            ):
                error: str | None = None
                handler = self.handlers.get(message.action)
                try:
                    if handler is None:
                        raise LookupError(f"no handler for {message.action.value}")
                    await handler.process(message)
                except Exception as exc:
                    log.exception(
                        "processing %s failed", message.action.value, extra={"record_id": message.record_id}
                    )
                    error = f"{type(exc).__name__}: {exc}"
                await self._finish(message.record_id, error)

    async def _finish(self, record_id: str, error: str | None) -> None:
        try:
            async with self.session_factory() as session, session.begin():
                await MessageLogRepository(session).mark_processed(record_id, error)
        except Exception:
            log.exception(
                "could not mark %s processed; it stays PENDING and runs again at start-up", record_id
            )

    async def resume(self) -> int:
        """Submit every PENDING inbound message (those a crash caught between ACK and processing)."""
        async with self.session_factory() as session:
            records = await MessageLogRepository(session).pending_inbound(limit=self.resume_limit)
        resumed = 0
        for record in records:
            if record.id in self._tasks:
                continue
            try:
                message = await self._rebuild(record)
            except RegistryClientError as exc:
                log.warning("cannot resume %s now (%s); it stays PENDING", record.id, exc)
                continue
            except (ValueError, LookupError) as exc:
                log.error("cannot resume %s: %s", record.id, exc)
                await self._finish(record.id, f"cannot be resumed: {exc}")
                continue
            self.submit(message)
            resumed += 1
        if resumed:
            log.info("resumed %d pending inbound messages", resumed)
        return resumed

    async def _rebuild(self, record: MessageRecord) -> InboundMessage:
        """The message as it was accepted: parsed again from the stored bytes, signer from the registry."""
        action = Action(record.action)
        envelope = parse_envelope(action, json.loads(record.body))
        signer = await self._signer(record.headers.get("authorization"))
        gateway_header = record.headers.get("x-gateway-authorization")
        gateway = await self._signer(gateway_header) if gateway_header else None
        if signer is None or record.counterparty is None:
            raise LookupError("the stored message has no signer")
        return InboundMessage(
            record_id=record.id,
            action=action,
            context=envelope.context,
            envelope=envelope,
            body=record.body,
            sender=record.counterparty,
            signer=signer,
            gateway=gateway,
            received_at=record.created_at,
        )

    async def _signer(self, authorization: str | None) -> Subscriber | None:
        """The key that signed a message we already verified, even if it was revoked since."""
        if not authorization:
            return None
        try:
            header = SignatureHeader.parse(authorization)
        except SignatureError as exc:
            raise ValueError(f"stored signature header is unreadable: {exc}") from None
        try:
            return await self.keystore.get(header.subscriber_id, header.unique_key_id)
        except SignatureError:
            query = LookupQuery(subscriber_id=header.subscriber_id, unique_key_id=header.unique_key_id)
            found = await self.keystore.source.lookup(query)
            if not found:
                raise LookupError(f"{header.key_id} is no longer in the registry") from None
            return found[0]

    async def stop(self, *, grace: float = 10.0) -> None:
        """Let running handlers finish for `grace` seconds, then cancel the rest (they stay PENDING)."""
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
            log.warning(
                "stopped %d inbox tasks before they finished; they resume at the next start", len(late)
            )
