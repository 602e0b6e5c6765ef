"""Telling the utility how its order is going: `on_status` answered to a `status`, and pushed unsolicited
at every state change and report interval (progress rides in on_status, never on_update: nothing in
the contract changed, only how it is being delivered).

An unsolicited report is a new message (new message_id) in the order's transaction, written to the
outbox in the caller's transaction, so it is sent once the state change it reports is committed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.dispatch.models import DispatchPlan
from bpp.dispatch.repository import PlanRepository
from bpp.orders.models import Order
from bpp.reporting.messages import order_report
from bpp.settings import BppSettings
from participant.outbound import OutboundSender
from schemas import core_v1 as beckn
from schemas.core_v1 import Action, Context, OnStatusMessage


def tags_of(plan: DispatchPlan | None) -> dict[str, Any]:
    """The stored performance and settlement tag values of a plan, as `order_report` takes them."""
    if plan is None:
        return {}
    return {
        "performance": (plan.performance or {}).get("tags"),
        "settlement": (plan.settlement or {}).get("tags"),
    }


async def order_status(session: AsyncSession, settings: BppSettings, order: Order) -> beckn.Order:
    """The order as an answered `status` shows it, figures included once there are any."""
    plan = await PlanRepository(session).get(order.id)
    return order_report(settings, order, **tags_of(plan))


async def send_report(
    session: AsyncSession,
    sender: OutboundSender,
    settings: BppSettings,
    order: Order,
    plan: DispatchPlan,
    *,
    ttl: timedelta,
) -> None:
    """Enqueue an unsolicited on_status for the order as it now stands."""
    request = Context.new(
        action=Action.STATUS,
        domain=settings.domain,
        bap_id=order.bap_id,
        bap_uri=order.bap_uri,
        bpp_id=settings.subscriber_id,
        bpp_uri=settings.subscriber_url,
        transaction_id=order.transaction_id,
        ttl=ttl,
        country=settings.country,
        city=settings.city,
        version=settings.core_version,
    )
    context = sender.reply_context(request, Action.ON_STATUS, unsolicited=True)
    message = OnStatusMessage(order=order_report(settings, order, **tags_of(plan)))
    await sender.send(session, action=Action.ON_STATUS, context=context, message=message)
