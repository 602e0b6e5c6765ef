"""Callbacks to a received request: at most once per request, and with an `error` when refused.

`process` runs at least once per accepted message, so before answering it looks for the answer in the
message log: a callback keeps its request's message_id, and both are written in the same transaction as
the outbox entry, so a replayed `process` finds the first answer and sends nothing more.
"""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.beckn.errors import Refusal
from participant.app import ParticipantRuntime
from participant.inbound import InboundMessage
from participant.messagelog import Direction, MessageLogRepository
from participant.outbound import delivery_deadline
from participant.outbox import enqueue
from schemas.core_v1 import BecknModel, parse_envelope


async def already_answered(session: AsyncSession, request: InboundMessage) -> bool:
    records = await MessageLogRepository(session).search(
        direction=Direction.OUTBOUND,
        action=request.action.callback.value,
        transaction_id=request.context.transaction_id,
        limit=1000,
    )
    return any(record.message_id == request.context.message_id for record in records)


async def send_callback(
    runtime: ParticipantRuntime, session: AsyncSession, request: InboundMessage, message: BecknModel
) -> None:
    """The callback of `request`, enqueued in the caller's transaction (sent once it commits)."""
    sender = runtime.sender
    action = request.action.callback
    await sender.send(session, action=action, context=sender.reply_context(request.context), message=message)


async def send_error(
    runtime: ParticipantRuntime, session: AsyncSession, request: InboundMessage, refusal: Refusal
) -> None:
    """The callback of `request` carrying `error` and no message (the spec allows either).

    `OutboundSender.send` always writes a `message`, so the envelope is checked and enqueued here with
    the same targets, deadline and wake-up the sender would use.
    """
    sender = runtime.sender
    action = request.action.callback
    context = sender.reply_context(request.context)
    envelope = parse_envelope(action, {"context": context.dump(), "error": refusal.error().dump()})
    body = json.dumps(envelope.dump(), separators=(",", ":"), ensure_ascii=False).encode()
    for target in await sender.targets(action, context):
        await enqueue(
            session,
            action=action.value,
            body=body,
            target_url=target.url,
            counterparty=target.counterparty,
            transaction_id=context.transaction_id,
            message_id=context.message_id,
            bap_id=context.bap_id,
            bpp_id=context.bpp_id,
            expires_at=delivery_deadline(context),
            wake=sender.wake,
        )
