"""What a receiver's answer means for an outbox entry: delivered, refused for good, or try again later.

Kept free of I/O so the rules can be read (and tested) in one place.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError

from participant.outbox.models import OutboxStatus
from schemas.core_v1 import AckResponse
from schemas.errors import ErrorCode

# Worth retrying: the receiver may not know our key yet, was slow, asked us to slow down, or broke.
RETRYABLE_HTTP_STATUSES = frozenset({401, 408, 429})
# "Stale request" with HTTP 409 is how a receiver says "duplicate message_id": on a retry this means an
# earlier attempt did arrive. The same codes with 400 mean an expired ttl, which was never accepted.
DUPLICATE_HTTP_STATUS = 409
ALREADY_RECEIVED_CODES = frozenset({ErrorCode.BAP_STALE_REQUEST.value, ErrorCode.BPP_STALE_REQUEST.value})


@dataclass(frozen=True)
class Reply:
    """The synchronous Beckn answer: ACK, NACK (with an error), or nothing readable (None)."""

    ack_status: str | None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class Verdict:
    """None as status means: retry later (if time allows)."""

    status: OutboxStatus | None
    note: str | None = None


def read_reply(content: bytes) -> Reply:
    """Liberal: any Beckn ack body, with or without an echoed context; a bare `error` object is a NACK."""
    try:
        data = json.loads(content) if content else None
    except ValueError:
        return Reply(ack_status=None)
    if not isinstance(data, dict):
        return Reply(ack_status=None)
    try:
        reply = AckResponse.from_reply(data)
    except ValidationError:
        error = data.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        if code is None:
            return Reply(ack_status=None)
        message = error.get("message") if isinstance(error, dict) else None
        return Reply("NACK", str(code), str(message) if message is not None else None)
    error_code = reply.error.code if reply.error is not None else None
    error_message = reply.error.message if reply.error is not None else None
    return Reply(reply.message.ack.status.value, error_code, error_message)


def judge(http_status: int, reply: Reply, *, attempt: int) -> Verdict:
    """Map one HTTP answer to the entry's next status (see ARCHITECTURE "Side effects after commit")."""
    if http_status in RETRYABLE_HTTP_STATUSES or http_status >= 500:
        return Verdict(None)
    if reply.ack_status == "NACK":
        if (
            attempt > 1
            and http_status == DUPLICATE_HTTP_STATUS
            and reply.error_code in ALREADY_RECEIVED_CODES
        ):
            return Verdict(
                OutboxStatus.DELIVERED,
                note=f"NACK {reply.error_code} on attempt {attempt}: the receiver already had this message",
            )
        return Verdict(OutboxStatus.NACKED)
    if 200 <= http_status < 300:
        if reply.ack_status is None:
            return Verdict(
                OutboxStatus.DELIVERED, note=f"HTTP {http_status} without an ack body, taken as ACK"
            )
        return Verdict(OutboxStatus.DELIVERED)
    return Verdict(OutboxStatus.NACKED, note=f"HTTP {http_status} from the receiver")


def backoff_delay(
    attempt: int, *, base: float, cap: float, uniform: Callable[[], float] = random.random
) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base·2^(attempt-1))]."""
    exponent = min(max(attempt - 1, 0), 62)
    return uniform() * min(cap, base * 2.0**exponent)
