"""The inbound pipeline: every Beckn message goes through the same fixed order of checks.

size → content type → signature over the raw bytes → (not applicable: 40001) → JSON → schema → context
→ signer → dedupe → persist → the role's `accept` → commit → ACK; then `process` via the inbox.
Each failure is a NACK body with its code and HTTP status, logged in the message log; never a traceback.

Dedupe is two-tier: messages this process accepted lately are refused from memory (`RecentMessages`);
the insert into the message log, under its UNIQUE (sender, message_id) key, is the authority for the rest
(other replicas, a restart, entries past their window).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from participant.db import utcnow
from participant.errors import BecknNack
from participant.inbound.checks import (
    InboundPolicy,
    Rejection,
    check_content_type,
    check_context,
    check_sender,
    invalid_code,
    invalid_request,
    parse_body,
    signature_rejection,
)
from participant.inbound.handlers import ActionHandler, InboundMessage
from participant.inbound.inbox import InboxDispatcher
from participant.inbound.recent import RecentMessages
from participant.logging import log_context
from participant.messagelog import DuplicateMessage, MessageLogRepository
from participant.metrics import Metrics
from registry_client.errors import RegistryClientError, SignatureError
from registry_client.signing import SignatureHeader
from registry_client.verifier import RequestVerifier, VerifiedSender
from schemas.core_v1 import NOT_APPLICABLE_ACTIONS, AckResponse, Action, BecknModel, Context, Envelope
from schemas.errors import ErrorCode

log = logging.getLogger(__name__)

# Kept with each received message: enough to re-verify it, nothing a peer could use to stuff the log.
LOGGED_HEADERS = (
    "content-type",
    "content-length",
    "authorization",
    "x-gateway-authorization",
    "digest",
    "user-agent",
)
ACCEPTED = "ACK"
SIGNATURE_VALID = "valid"
# Every action whose request side is not applicable (`track`, `on_track`, …), worked out once.
_NOT_APPLICABLE = frozenset(action for action in Action if action.request in NOT_APPLICABLE_ACTIONS)


@dataclass
class Inspection:
    """One received message and what the stages have learnt about it so far (logged on rejection)."""

    action: Action
    headers: Mapping[str, str]
    url: str
    received_at: datetime
    body: bytes = b""
    verified: VerifiedSender | None = None
    envelope: Envelope[BecknModel] | None = None

    @property
    def sender(self) -> str | None:
        return self.verified.subscriber.subscriber_id if self.verified is not None else None


@dataclass(frozen=True)
class InboundReply:
    status_code: int
    body: AckResponse
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        content = json.dumps(self.body.dump(), separators=(",", ":"), ensure_ascii=False).encode()
        return Response(content, self.status_code, self.headers, media_type="application/json")


class InboundPipeline:
    """The checks, the transaction that accepts a message, and the hand-off to the inbox."""

    def __init__(
        self,
        *,
        policy: InboundPolicy,
        verifier: RequestVerifier,
        session_factory: async_sessionmaker[AsyncSession],
        handlers: Mapping[Action, ActionHandler],
        inbox: InboxDispatcher,
        metrics: Metrics | None = None,
        recent: RecentMessages | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.policy = policy
        self.verifier = verifier
        self.session_factory = session_factory
        self.handlers = handlers
        self.inbox = inbox
        self.metrics = metrics
        self.recent = recent if recent is not None else RecentMessages()
        self._clock = clock
        self._challenge = f'Signature realm="{policy.subscriber_id}",headers="(created) (expires) digest"'

    # -- HTTP entry ------------------------------------------------------------------------------

    async def receive(self, action: Action, request: Request) -> Response:
        started = time.perf_counter()
        inspection = Inspection(
            action=action,
            headers={name: request.headers[name] for name in LOGGED_HEADERS if name in request.headers},
            url=str(request.url),
            received_at=self._clock(),
        )
        with log_context(action=action.value):
            try:
                inspection.body = await read_body(request, action, self.policy.max_body_bytes)
                reply = await self.admit(inspection)
                verdict = "ack"
            except Rejection as rejection:
                reply = await self.reject(inspection, rejection)
                verdict = rejection.verdict
        if self.metrics is not None:
            self.metrics.message_in(action.value, verdict, time.perf_counter() - started)
        return reply.response()

    # -- stages ----------------------------------------------------------------------------------

    async def screen(self, inspection: Inspection) -> None:
        """Every check that needs no database: content type, signature, JSON, schema, context, signer."""
        action, headers = inspection.action, inspection.headers
        check_content_type(action, headers.get("content-type"))
        try:
            inspection.verified = await self.verifier.verify(
                inspection.body,
                headers.get("authorization"),
                headers.get("x-gateway-authorization"),
                digest_header=headers.get("digest"),
            )
        except SignatureError as exc:
            raise signature_rejection(exc, receiving_callback=action.is_callback) from None
        except RegistryClientError as exc:
            raise Rejection(
                503,
                ErrorCode.invalid_signature(receiving_callback=action.is_callback),
                f"cannot check the signature now (registry unavailable): {exc}",
                verdict="registry unavailable",
                signature_verdict="registry unavailable",
            ) from None
        if action in _NOT_APPLICABLE or action not in self.handlers:
            raise Rejection(
                400,
                ErrorCode.ACTION_NOT_APPLICABLE,
                f"{action.value} is not applicable to demand flexibility here",
                signature_verdict=SIGNATURE_VALID,
            )
        inspection.envelope = parse_body(action, inspection.body)
        check_context(inspection.envelope.context, action, self.policy, inspection.received_at)
        check_sender(inspection.verified, inspection.envelope.context, action)

    def check_fresh(self, inspection: Inspection) -> None:
        """Dedupe by (sender, message_id) against what this process accepted lately: a replay, or a
        retry of something already accepted. A miss proves nothing; `persist` has the last word."""
        sender, envelope = inspection.sender, inspection.envelope
        assert sender is not None and envelope is not None, "screen() first"
        if self.recent.seen(sender, envelope.context.message_id):
            raise _duplicate(inspection.action, sender, envelope.context.message_id)

    async def persist(self, inspection: Inspection) -> InboundMessage:
        """Log the message and run the role's `accept` in one transaction, then commit. The insert
        refuses a (sender, message_id) the message log holds already: that is the dedupe authority."""
        verified, envelope = inspection.verified, inspection.envelope
        assert verified is not None and envelope is not None, "screen() first"
        context, action = envelope.context, inspection.action
        sender = verified.subscriber.subscriber_id
        try:
            async with self.session_factory() as session, session.begin():
                record = await MessageLogRepository(session).record_inbound(
                    **_record_fields(inspection),
                    signature_verdict=SIGNATURE_VALID,
                    http_status=200,
                    ack_status=ACCEPTED,
                    accepted=True,
                )
                message = InboundMessage(
                    record_id=record.id,
                    action=action,
                    context=context,
                    envelope=envelope,
                    body=inspection.body,
                    sender=sender,
                    signer=verified.subscriber,
                    gateway=verified.gateway,
                    received_at=inspection.received_at,
                )
                await self.handlers[action].accept(session, message)
        except Rejection:
            raise
        except DuplicateMessage:
            self._remember(sender, context)
            raise _duplicate(action, sender, context.message_id) from None
        except BecknNack as nack:
            raise Rejection(
                nack.http_status,
                nack.code,
                nack.message,
                paths=nack.paths,
                signature_verdict=SIGNATURE_VALID,
            ) from None
        except Exception as exc:  # the database or a handler failed: the sender should retry
            log.exception("could not accept %s", action.value)
            raise Rejection(
                503,
                invalid_code(receiving_callback=action.is_callback),
                f"the message could not be accepted now ({type(exc).__name__}); send it again",
                verdict="unavailable",
                signature_verdict=SIGNATURE_VALID,
            ) from None
        self._remember(sender, context)
        return message

    def _remember(self, sender: str, context: Context) -> None:
        """Only once the database holds the message, and only while a replay could still pass `screen`."""
        expires_at = context.expires_at()
        seconds = None
        if expires_at is not None:
            seconds = (expires_at + self.policy.skew - self._clock()).total_seconds()
        self.recent.remember(sender, context.message_id, seconds)

    async def admit(self, inspection: Inspection) -> InboundReply:
        """Screen and dedupe; persist and `accept` in one transaction; after the commit, hand to the inbox."""
        await self.screen(inspection)
        verified, envelope = inspection.verified, inspection.envelope
        assert verified is not None and envelope is not None
        context = envelope.context
        with log_context(
            transaction_id=context.transaction_id,
            message_id=context.message_id,
            counterparty=verified.subscriber.subscriber_id,
        ):
            self.check_fresh(inspection)
            message = await self.persist(inspection)
            self.inbox.submit(message)
            log.info("accepted %s", inspection.action.value, extra={"record_id": message.record_id})
        return InboundReply(200, AckResponse.ack())

    async def reject(self, inspection: Inspection, rejection: Rejection) -> InboundReply:
        """Log the refused message (in its own short transaction) and build the NACK."""
        fields = _record_fields(inspection)
        signature_verdict = rejection.signature_verdict or (
            SIGNATURE_VALID if inspection.verified is not None else None
        )
        with log_context(
            transaction_id=fields["transaction_id"],
            message_id=fields["message_id"],
            counterparty=fields["counterparty"],
        ):
            log.warning(
                "NACK %s: %s",
                inspection.action.value,
                rejection.message,
                extra={"http_status": rejection.http_status, "code": rejection.code.value},
            )
            try:
                async with self.session_factory() as session, session.begin():
                    await MessageLogRepository(session).record_inbound(
                        **fields,
                        signature_verdict=signature_verdict,
                        http_status=rejection.http_status,
                        ack_status="NACK",
                        error_code=rejection.code.value,
                        error_message=rejection.message,
                        accepted=False,
                    )
            except Exception:
                log.exception("could not log the rejected %s", inspection.action.value)
        headers = {"WWW-Authenticate": self._challenge} if rejection.challenge else {}
        body = AckResponse.nack(rejection.code, rejection.message, rejection.paths)
        return InboundReply(rejection.http_status, body, headers)


async def read_body(request: Request, action: Action, limit: int) -> bytes:
    """The raw body, refused (413) as soon as it passes `limit` bytes, whatever Content-Length said."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(action, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(action, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(action: Action, limit: int) -> Rejection:
    return invalid_request(action, f"the body is larger than {limit} bytes", http_status=413)


def _duplicate(action: Action, sender: str, message_id: str) -> Rejection:
    return Rejection(
        409,
        ErrorCode.stale_request(receiving_callback=action.is_callback),
        f"duplicate message_id {message_id!r} from {sender!r}: already received",
        paths="context.message_id",
        signature_verdict=SIGNATURE_VALID,
    )


def _record_fields(inspection: Inspection) -> dict[str, Any]:
    """Message log columns from what is known: the parsed context, else a best-effort peek at the body."""
    if inspection.envelope is not None:
        context = inspection.envelope.context
        ids: dict[str, str | None] = {
            "transaction_id": context.transaction_id,
            "message_id": context.message_id,
            "bap_id": context.bap_id,
            "bpp_id": context.bpp_id,
        }
    else:
        ids = _peek_ids(inspection.body)
    return {
        "action": inspection.action.value,
        "body": inspection.body,
        "headers": dict(inspection.headers),
        "url": inspection.url,
        "counterparty": inspection.sender or _claimed_signer(inspection.headers.get("authorization")),
        **ids,
    }


def _peek_ids(body: bytes) -> dict[str, str | None]:
    """The context ids of a body that failed a check, when it still has them (for the log only)."""
    try:
        data = json.loads(body) if body else None
    except (ValueError, RecursionError):
        data = None
    context = data.get("context") if isinstance(data, dict) else None
    context = context if isinstance(context, dict) else {}
    return {
        name: value[:255] if isinstance(value, str) else None
        for name in ("transaction_id", "message_id", "bap_id", "bpp_id")
        for value in [context.get(name)]
    }


def _claimed_signer(authorization: str | None) -> str | None:
    """Who the signature header claims to be (unverified; the log's signature_verdict says so)."""
    if not authorization:
        return None
    try:
        return SignatureHeader.parse(authorization).subscriber_id[:255]
    except (SignatureError, ValueError):
        return None


def build_beckn_router(
    actions: Iterable[Action], get_pipeline: Callable[[Request], InboundPipeline]
) -> APIRouter:
    """`POST /<action>` for each action received; the pipeline is looked up per request because it is
    built in the app's lifespan, after the routes."""
    router = APIRouter(tags=["beckn"])
    for action in actions:
        router.add_api_route(
            f"/{action.value}",
            _endpoint(action, get_pipeline),
            methods=["POST"],
            name=f"beckn_{action.value}",
            summary=f"Receive a signed Beckn {action.value}",
            response_class=Response,
            responses=_RESPONSES,
            openapi_extra=_REQUEST_BODY,
        )
    return router


def _endpoint(action: Action, get_pipeline: Callable[[Request], InboundPipeline]) -> Callable[..., Any]:
    async def receive(request: Request) -> Response:
        return await get_pipeline(request).receive(action, request)

    return receive


_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A Beckn core 1.1 envelope {context, message}, signed per BECKN-006.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": AckResponse, "description": "ACK"},
    400: {"model": AckResponse, "description": "NACK: invalid request, stale, or not applicable"},
    401: {"model": AckResponse, "description": "NACK: signature failure (with WWW-Authenticate)"},
    409: {"model": AckResponse, "description": "NACK: message_id already received from this sender"},
    413: {"model": AckResponse, "description": "NACK: body too large"},
    415: {"model": AckResponse, "description": "NACK: not application/json"},
    503: {"model": AckResponse, "description": "NACK: cannot accept now; send again"},
}
