"""The stages of the inbound pipeline that need neither HTTP nor the database, one function each.

Each stage either passes or raises `Rejection`, which carries the NACK to answer (HTTP status, BECKN-005
code, paths) and the verdict to log. The route and `degflex bench` call these same functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from participant.settings import ParticipantSettings
from registry_client.errors import SignatureError
from registry_client.verifier import VerifiedSender, check_signer
from schemas.core_v1 import (
    Action,
    BecknModel,
    Context,
    Envelope,
    parse_envelope,
    parse_envelope_json,
    validation_paths,
)
from schemas.errors import ErrorCode

JSON_MEDIA_TYPE = "application/json"
# Ids are stored (and deduplicated) in columns of this size.
MAX_ID_LENGTH = 255


class Rejection(Exception):
    """A message that failed a stage: what to answer and what to write in the message log."""

    def __init__(
        self,
        http_status: int,
        code: ErrorCode,
        message: str,
        *,
        paths: str | None = None,
        verdict: str | None = None,
        signature_verdict: str | None = None,
        challenge: bool = False,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.paths = paths
        # The metrics label: a NACK code, or the signature failure's reason.
        self.verdict = verdict or code.value
        # For the message log; None when the signature was not (yet) checked.
        self.signature_verdict = signature_verdict
        # Answer with `WWW-Authenticate` (every signature failure).
        self.challenge = challenge


def invalid_code(*, receiving_callback: bool) -> ErrorCode:
    """30000 for a request a BPP cannot accept; 20006 for a callback a BAP cannot accept (as ONDC)."""
    return ErrorCode.BAP_INVALID_RESPONSE if receiving_callback else ErrorCode.INVALID_REQUEST


def invalid_request(
    action: Action, message: str, *, paths: str | None = None, http_status: int = 400
) -> Rejection:
    return Rejection(http_status, invalid_code(receiving_callback=action.is_callback), message, paths=paths)


@dataclass(frozen=True)
class InboundPolicy:
    """What this participant accepts: who it is, its domains and core version, how much clock skew."""

    subscriber_id: str
    domains: frozenset[str]
    version: str
    skew: timedelta
    max_body_bytes: int

    @classmethod
    def from_settings(cls, settings: ParticipantSettings) -> InboundPolicy:
        return cls(
            subscriber_id=settings.subscriber_id,
            domains=frozenset(settings.domains),
            version=major_minor(settings.core_version),
            skew=timedelta(seconds=settings.clock_skew_seconds),
            max_body_bytes=settings.max_body_bytes,
        )


def major_minor(version: str) -> str:
    """`1.1.0` → `1.1`: patch releases of the core spec are wire compatible."""
    return ".".join(version.strip().split(".")[:2])


def check_content_type(action: Action, value: str | None) -> None:
    media_type = (value or "").split(";", 1)[0].strip().lower()
    if media_type != JSON_MEDIA_TYPE:
        message = f"content type must be {JSON_MEDIA_TYPE}, got {value or 'none'!r}"
        raise invalid_request(action, message, http_status=415)


def signature_rejection(exc: SignatureError, *, receiving_callback: bool) -> Rejection:
    return Rejection(
        401,
        ErrorCode.invalid_signature(receiving_callback=receiving_callback),
        str(exc),
        verdict=exc.reason,
        signature_verdict=exc.reason,
        challenge=True,
    )


def parse_body(action: Action, body: bytes) -> Envelope[BecknModel]:
    """JSON and schema in one pass over the raw bytes.

    What pydantic's JSON parser refuses goes through Python's `json` instead, which accepts a little
    more (a UTF-8 BOM, UTF-16, lone surrogates, deep nesting) and words the "not JSON" answer.
    """
    try:
        return parse_envelope_json(action, body)
    except ValidationError as exc:
        errors = exc.errors()
        if errors and errors[0]["type"] == "json_invalid":
            return parse_schema(action, parse_json(action, body))
        if errors and errors[0]["type"] == "model_type" and not errors[0]["loc"]:
            raise invalid_request(action, "the body is not a JSON object") from None
        raise _schema_rejection(action, exc) from None


def parse_json(action: Action, body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise invalid_request(action, f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise invalid_request(action, "the body is not a JSON object")
    return data


def parse_schema(action: Action, data: dict[str, Any]) -> Envelope[BecknModel]:
    try:
        return parse_envelope(action, data)
    except ValidationError as exc:
        raise _schema_rejection(action, exc) from None


def _schema_rejection(action: Action, exc: ValidationError) -> Rejection:
    first = exc.errors()[0]["msg"] if exc.error_count() else "invalid"
    message = f"the body is not a valid {action.value}: {first}"
    return invalid_request(action, message, paths=validation_paths(exc))


def check_context(context: Context, action: Action, policy: InboundPolicy, now: datetime) -> None:
    """Addressing and freshness rules of the context, for a message received at `/<action>`."""
    if context.action is not action:
        raise invalid_request(
            action, f"context.action is {context.action}, sent to /{action}", paths="context.action"
        )
    for name in ("transaction_id", "message_id", "bap_id", "bpp_id"):
        value = getattr(context, name)
        if value is not None and len(value) > MAX_ID_LENGTH:
            raise invalid_request(
                action, f"{name} is longer than {MAX_ID_LENGTH} characters", paths=f"context.{name}"
            )
    if context.domain not in policy.domains:
        raise invalid_request(action, f"domain {context.domain!r} is not served here", paths="context.domain")
    if context.version is None or major_minor(context.version) != policy.version:
        raise invalid_request(
            action,
            f"core version {context.version!r} is not supported (expected {policy.version}.x)",
            paths="context.version",
        )
    if context.timestamp > now + policy.skew:
        raise invalid_request(action, "context.timestamp is in the future", paths="context.timestamp")
    expires_at = context.expires_at()
    if expires_at is not None and expires_at + policy.skew < now:
        raise Rejection(
            400,
            ErrorCode.stale_request(receiving_callback=action.is_callback),
            f"the message expired at {expires_at.isoformat()} (timestamp + ttl)",
            paths="context.ttl",
        )
    if action.is_callback:
        if context.bap_id != policy.subscriber_id:
            raise invalid_request(
                action, f"this callback is addressed to {context.bap_id!r}", paths="context.bap_id"
            )
        if not context.bpp_id:
            raise invalid_request(action, "a callback must name its bpp_id", paths="context.bpp_id")
    elif context.bpp_id is not None and context.bpp_id != policy.subscriber_id:
        raise invalid_request(
            action, f"this request is addressed to {context.bpp_id!r}", paths="context.bpp_id"
        )


def check_sender(verified: VerifiedSender, context: Context, action: Action) -> None:
    """The signer must be who the context says sent it: bap_id on requests, bpp_id on callbacks."""
    expected = context.bpp_id if action.is_callback else context.bap_id
    try:
        check_signer(verified, expected or "")
    except SignatureError as exc:
        raise signature_rejection(exc, receiving_callback=action.is_callback) from None
