"""The generic Beckn client: any request, in any domain, signed and sent for a utility system.

We stamp the context with our identity and fresh ids, check the body against the core models (a body that
does not validate is refused, never sent), and remember the transaction so that its callbacks, whatever
their domain, are accepted and kept in the message log.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bap.audit.service import Channel, record
from bap.beckn.models import ClientTransaction
from bap.beckn.repository import ClientTransactionRepository
from bap.beckn.schemas import BecknRequestIn
from bap.desk import Desk
from bap.errors import Invalid, NotFound
from bap.events.repository import EventRepository
from participant.messagelog import MessageRecord
from participant.operators import Operator
from participant.outbound import InvalidOutboundMessage, NoTarget
from schemas.core_v1 import Action, Context, parse_duration


def request_action(name: str) -> Action:
    try:
        action = Action(name)
    except ValueError:
        raise NotFound(f"{name!r} is not a Beckn action") from None
    if action.is_callback:
        raise Invalid(f"{name} is a callback; a BAP sends requests")
    return action


async def send_request(
    session: AsyncSession, desk: Desk, action: Action, request: BecknRequestIn, actor: Operator
) -> dict[str, Any]:
    settings = desk.settings
    partial = request.context
    try:
        ttl = parse_duration(partial.ttl) if partial.ttl else timedelta(seconds=settings.message_ttl_seconds)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    context = Context.new(
        action=action,
        domain=partial.domain or settings.domain,
        bap_id=settings.subscriber_id,
        bap_uri=settings.subscriber_url,
        bpp_id=partial.bpp_id,
        bpp_uri=partial.bpp_uri,
        transaction_id=partial.transaction_id,
        ttl=ttl,
        country=partial.country or settings.country,
        city=partial.city or settings.city,
        version=settings.core_version,
    )
    try:
        entries = await desk.sender.send(
            session, action=action, context=context, message=request.message, target_url=request.target_url
        )
    except (InvalidOutboundMessage, NoTarget) as exc:
        raise Invalid(str(exc)) from None
    transactions = ClientTransactionRepository(session)
    own_event = await EventRepository(session).by_transaction(context.transaction_id)
    if own_event is None and await transactions.get(context.transaction_id) is None:
        await transactions.add(
            ClientTransaction(
                transaction_id=context.transaction_id, domain=context.domain, started_by=actor.name
            )
        )
    record(
        session,
        actor,
        f"beckn_{action.value}",
        channel=Channel.API,
        target_type="transaction",
        target_id=context.transaction_id,
        domain=context.domain,
        message_id=context.message_id,
    )
    return {
        "transaction_id": context.transaction_id,
        "message_id": context.message_id,
        "domain": context.domain,
        "targets": [entry.target_url for entry in entries],
    }


def _record_view(record_: MessageRecord) -> dict[str, Any]:
    try:
        body: Any = json.loads(record_.body)
    except ValueError:
        body = record_.body.decode("utf-8", errors="replace")
    return {
        "action": record_.action,
        "message_id": record_.message_id,
        "counterparty": record_.counterparty,
        "at": record_.created_at.isoformat(),
        "ack_status": record_.ack_status,
        "body": body,
    }


async def transaction_log(session: AsyncSession, transaction_id: str) -> dict[str, Any]:
    """Every callback received in the transaction, in arrival order, and what we sent in it."""
    repository = ClientTransactionRepository(session)
    sent = await repository.sent(transaction_id)
    callbacks = await repository.callbacks(transaction_id)
    if not sent and not callbacks:
        raise NotFound(f"no transaction {transaction_id!r}")
    started = await repository.get(transaction_id)
    return {
        "transaction_id": transaction_id,
        "domain": started.domain if started else None,
        "sent": [_record_view(r) for r in sent],
        "callbacks": [_record_view(r) for r in callbacks],
    }
