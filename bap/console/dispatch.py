"""Carrying out a console command for one operator, with the same services and rules as the API.

Reading (status, show options, help) is open to every role; deciding and cancelling needs the operator
role. Each decision is audited with its outcome, including refusals and forbidden attempts.
"""

from __future__ import annotations

import logging
from typing import Any

from bap.audit.service import Channel, Outcome, record
from bap.console.commands import (
    HELP,
    Adjust,
    Approve,
    Cancel,
    Command,
    Decline,
    Help,
    ShowOptions,
    Status,
    Unknown,
)
from bap.console.messages import ConsoleMessage, MessageType, message
from bap.console.snapshot import open_events
from bap.desk import Desk
from bap.errors import BapError
from bap.events import service as events
from bap.events.repository import EventRepository
from bap.events.views import offer_view, recommendation_view
from bap.orders import service as orders
from participant.app import unit_of_work
from participant.operators import Operator, OperatorRole

log = logging.getLogger(__name__)

DECISIONS = (Approve, Decline, Adjust, Cancel)
NAMES = {
    Approve: "approve",
    Decline: "decline",
    Adjust: "adjust",
    Cancel: "cancel",
    ShowOptions: "show options",
    Status: "status",
    Help: "help",
    Unknown: "unknown",
}


def reply(command: str, ok: bool, text: str, **data: Any) -> ConsoleMessage:
    return message(MessageType.REPLY, command=command, ok=ok, text=text, data=data)


async def execute(desk: Desk, operator: Operator, command: Command) -> ConsoleMessage:
    """The reply (or `error`) for `command`; never raises for anything an operator can type."""
    name = NAMES[type(command)]
    if isinstance(command, Unknown):
        return reply(name, False, command.reply)
    if isinstance(command, Help):
        return reply(name, True, HELP)
    if isinstance(command, DECISIONS) and operator.role < OperatorRole.OPERATOR:
        async with unit_of_work(desk.session_factory) as session:
            record(
                session,
                operator,
                name.replace(" ", "_"),
                channel=Channel.WEBSOCKET,
                outcome=Outcome.FORBIDDEN,
            )
        return message(
            MessageType.ERROR,
            code="forbidden",
            command=name,
            message=f"{operator.name} is a {operator.role.label}; '{name}' needs the operator role",
        )
    try:
        async with unit_of_work(desk.session_factory) as session:
            return await _carry_out(session, desk, operator, command, name)
    except BapError as exc:
        if isinstance(command, DECISIONS):
            async with unit_of_work(desk.session_factory) as session:
                record(
                    session,
                    operator,
                    name,
                    channel=Channel.WEBSOCKET,
                    outcome=Outcome.REFUSED,
                    reason=str(exc),
                )
        return reply(name, False, str(exc))
    except Exception:
        log.exception("console command %s by %s failed", name, operator.name)
        return message(
            MessageType.ERROR, code="internal", command=name, message="the command failed; see the log"
        )


async def _carry_out(
    session: Any, desk: Desk, operator: Operator, command: Command, name: str
) -> ConsoleMessage:
    channel = Channel.WEBSOCKET
    if isinstance(command, Approve):
        event = await events.approve(session, desk, command.event_ref, operator, channel)
        return reply(name, True, f"Activating event {event.id[:8]} on {event.grid_node}.", event_id=event.id)
    if isinstance(command, Decline):
        event = await events.decline(session, desk, command.event_ref, operator, channel)
        return reply(name, True, f"Declined event {event.id[:8]} on {event.grid_node}.", event_id=event.id)
    if isinstance(command, Adjust):
        event = await events.adjust(session, desk, None, {command.offer_ref: command.kw}, operator, channel)
        return reply(name, True, f"Adjusted the recommendation for {event.id[:8]}.", event_id=event.id)
    if isinstance(command, Cancel):
        order = await orders.cancel_order(session, desk, command.order_ref, operator, channel)
        return reply(
            name, True, f"Cancelling order {order.id[:8]} with {order.aggregator_id}.", order_id=order.id
        )
    if isinstance(command, ShowOptions):
        return await _options(session, command.event_ref, name)
    assert isinstance(command, Status)
    refreshed = await orders.refresh_active(session, desk) if operator.role >= OperatorRole.OPERATOR else []
    summary = await open_events(session)
    text = f"{len(summary)} open event(s)"
    if refreshed:
        text += f"; asked {len(refreshed)} confirmed order(s) for a fresh status"
    return reply(name, True, text + ".", events=summary)


async def _options(session: Any, ref: str | None, name: str) -> ConsoleMessage:
    repository = EventRepository(session)
    if ref is not None:
        event = await repository.find(ref)
    else:
        event = await events.pending_event(session, None)
    offers = await repository.offers(event.id)
    lines = [
        f"{offer.id[:8]} {offer.aggregator_id}: {offer.available_kw.normalize():f} kW at "
        f"{offer.price_per_kwh.normalize():f}/kWh, reliability {offer.reliability.normalize():f}"
        for offer in offers
    ]
    recommendation = recommendation_view(event)
    if recommendation is not None:
        lines.append(str(recommendation.get("explanation", "")))
    return reply(
        name,
        True,
        "\n".join(lines) or "No offers yet.",
        event_id=event.id,
        offers=[offer_view(offer) for offer in offers],
        recommendation=recommendation,
    )
