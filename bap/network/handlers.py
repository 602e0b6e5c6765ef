"""The callbacks a BAP receives, one handler per action, each working inside the receiving transaction.

State changes happen in `accept`, in the same transaction that logs and ACKs the callback: a callback is
applied exactly once (the log refuses duplicates) and never ACKed without being applied. Callbacks for
transactions started through the generic client (`/api/beckn/…`) are only logged, in any domain.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from bap.beckn.repository import ClientTransactionRepository
from bap.desk import Desk
from bap.events.repository import EventRepository
from bap.events.service import catalog_of, receive_offers
from bap.events.wire import offers_in
from bap.orders import activation, tracking
from bap.orders.models import Order
from bap.orders.repository import OrderRepository
from participant.errors import BecknNack
from participant.inbound import ActionHandler, BaseActionHandler, InboundMessage
from schemas.core_v1 import Action
from schemas.errors import ErrorCode

log = logging.getLogger(__name__)

OrderStep = Callable[[AsyncSession, Desk, Order, InboundMessage], Awaitable[None]]


class CallbackHandler(BaseActionHandler):
    """Common rules: the domain must be ours, unless we started the transaction through the client."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    async def accept(self, session: AsyncSession, message: InboundMessage) -> None:
        started = await ClientTransactionRepository(session).get(message.context.transaction_id)
        if started is not None:
            return
        if message.context.domain not in self.desk.settings.domains:
            raise BecknNack(
                ErrorCode.BAP_INVALID_RESPONSE,
                f"domain {message.context.domain!r} is not served here",
                paths="context.domain",
            )
        await self.apply(session, message)

    async def apply(self, session: AsyncSession, message: InboundMessage) -> None:
        return None


class OnSearch(CallbackHandler):
    async def apply(self, session: AsyncSession, message: InboundMessage) -> None:
        event = await EventRepository(session).by_transaction(message.context.transaction_id)
        if event is None:
            raise BecknNack(
                ErrorCode.BAP_INVALID_RESPONSE,
                f"no search of ours has transaction {message.context.transaction_id!r}",
                paths="context.transaction_id",
            )
        catalog = catalog_of(message.envelope.message)
        drafts = offers_in(catalog) if catalog is not None else []
        bpp_uri = message.context.bpp_uri or message.signer.url
        await receive_offers(session, self.desk, event, message.sender, bpp_uri, drafts)


class OnOrder(CallbackHandler):
    """on_select … on_cancel: find our order (the request it answers, else the aggregator's order id)."""

    def __init__(self, desk: Desk, step: OrderStep) -> None:
        super().__init__(desk)
        self.step = step

    async def apply(self, session: AsyncSession, message: InboundMessage) -> None:
        order = await find_order(session, message)
        if order is None:
            if await EventRepository(session).by_transaction(message.context.transaction_id) is None:
                raise BecknNack(
                    ErrorCode.BAP_INVALID_RESPONSE,
                    f"no order of ours matches transaction {message.context.transaction_id!r}",
                    paths="context.transaction_id",
                )
            log.info("%s from %s matches no order; logged only", message.action.value, message.sender)
            return
        await self.step(session, self.desk, order, message)


async def find_order(session: AsyncSession, message: InboundMessage) -> Order | None:
    repository = OrderRepository(session)
    order = await repository.awaiting(message.context.message_id)
    if order is not None and order.aggregator_id == message.sender:
        return order
    beckn_order = getattr(message.envelope.message, "order", None)
    bpp_order_id = getattr(beckn_order, "id", None)
    if isinstance(bpp_order_id, str) and bpp_order_id:
        order = await repository.by_bpp_order(message.sender, bpp_order_id)
        if order is not None:
            return order
    return await repository.in_transaction(message.context.transaction_id, message.sender)


def callback_handlers(desk: Desk) -> Mapping[Action, ActionHandler]:
    """Every callback of an implemented action; track/rating/support stay refused by the pipeline."""
    return {
        Action.ON_SEARCH: OnSearch(desk),
        Action.ON_SELECT: OnOrder(desk, activation.on_select),
        Action.ON_INIT: OnOrder(desk, activation.on_init),
        Action.ON_CONFIRM: OnOrder(desk, activation.on_confirm),
        Action.ON_STATUS: OnOrder(desk, tracking.on_progress),
        Action.ON_UPDATE: OnOrder(desk, tracking.on_progress),
        Action.ON_CANCEL: OnOrder(desk, tracking.on_cancel),
    }
