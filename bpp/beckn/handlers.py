"""One handler per Beckn action the aggregator receives, in a typed table (`bpp_handlers`).

Where the work happens, and so how a refusal is answered:

- search, select, init: `accept` only reads the request (NACK when it names an unknown provider or
  item, or cannot be read); `process` computes the answer and sends it, with `error` when the offer
  refuses (terms, capacity). init persists the DRAFT order and holds its kW (under the grid node's lock)
  in the same transaction as its on_init, so an on_init with a quote means the kW are held.
- confirm, update, cancel, status: `accept` does the whole change in the receiving transaction (reserving,
  resizing or releasing capacity under the grid node's lock), so a refusal is a synchronous NACK and an
  ACK means the change is committed; `process` sends the order as it now stands.

`process` answers each request at most once (`replies.already_answered`) and leaves expired searches,
selects and inits unanswered: the utility has stopped listening and nothing was changed for them.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.beckn import replies
from bpp.beckn.catalog import catalog_message
from bpp.beckn.errors import Refusal, refusal
from bpp.beckn.orders import order_message, selection
from bpp.beckn.requests import read_cancel, read_order, read_search, read_status, read_update
from bpp.catalog import service as catalog
from bpp.orders import rules
from bpp.orders import service as orders
from bpp.orders.errors import OrderError
from bpp.orders.requests import Buyer
from bpp.reporting import service as reporting
from bpp.settings import BppSettings
from participant.app import ParticipantRuntime, unit_of_work
from participant.db import utcnow
from participant.inbound import ActionHandler, InboundMessage
from schemas.core_v1 import (
    Action,
    BecknModel,
    CancelMessage,
    ConfirmMessage,
    InitMessage,
    OnCancelMessage,
    OnConfirmMessage,
    OnInitMessage,
    OnSelectMessage,
    OnStatusMessage,
    OnUpdateMessage,
    SearchMessage,
    SelectMessage,
    StatusMessage,
    UpdateMessage,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BecknModel)


def body(message: InboundMessage, model: type[M]) -> M:
    """The typed message body (the pipeline parsed it with this action's model)."""
    payload = message.envelope.message
    assert isinstance(payload, model), f"{message.action} carries {type(payload).__name__}"
    return payload


def buyer(message: InboundMessage) -> Buyer:
    context = message.context
    return Buyer(bap_id=context.bap_id, bap_uri=context.bap_uri, transaction_id=context.transaction_id)


@contextmanager
def answering(action: Action) -> Iterator[None]:
    """Order errors raised inside become refusals of `action`."""
    try:
        yield
    except OrderError as exc:
        raise refusal(exc, action) from None


def expired(message: InboundMessage) -> bool:
    expires_at = message.context.expires_at()
    if expires_at is not None and expires_at < utcnow():
        log.warning("%s expired at %s before it was answered", message.action.value, expires_at.isoformat())
        return True
    return False


class BppHandler(ABC):
    """What every handler holds: the runtime (sessions, sender) and the aggregator's settings."""

    def __init__(self, runtime: ParticipantRuntime, settings: BppSettings) -> None:
        self.runtime = runtime
        self.settings = settings

    async def accept(self, session: AsyncSession, message: InboundMessage) -> None:
        try:
            with answering(message.action):
                await self.admit(session, message)
        except Refusal as exc:
            raise exc.nack() from None

    @abstractmethod
    async def admit(self, session: AsyncSession, message: InboundMessage) -> None:
        """Checks (and, for changes, the change itself) in the receiving transaction."""

    async def process(self, message: InboundMessage) -> None:
        async with unit_of_work(self.runtime.session_factory) as session:
            if await replies.already_answered(session, message):
                return
            try:
                with answering(message.action):
                    reply = await self.answer(session, message)
            except Refusal as exc:
                await replies.send_error(self.runtime, session, message, exc)
                return
            if reply is not None:
                await replies.send_callback(self.runtime, session, message, reply)

    @abstractmethod
    async def answer(self, session: AsyncSession, message: InboundMessage) -> BecknModel | None:
        """The callback's message; None sends nothing. Refusals go back as the callback's error."""


class SearchHandler(BppHandler):
    async def admit(self, session: AsyncSession, message: InboundMessage) -> None:
        read_search(body(message, SearchMessage), provider_id=self.settings.provider)

    async def answer(self, session: AsyncSession, message: InboundMessage) -> BecknModel | None:
        if expired(message):
            return None
        query = read_search(body(message, SearchMessage), provider_id=self.settings.provider)
        offers = await catalog.find_offers(session, query, now=utcnow()) if query is not None else []
        reply = catalog_message(self.settings, offers, query.window if query is not None else None)
        if not reply.catalog.providers and not self.settings.callback_on_empty_search:
            log.info("search matched no offer; not answered")
            return None
        return reply


class SelectHandler(BppHandler):
    async def admit(self, session: AsyncSession, message: InboundMessage) -> None:
        request = read_order(body(message, SelectMessage).order, provider_id=self.settings.provider)
        await rules.active_terms(session, request.offer, request.item_id)

    async def answer(self, session: AsyncSession, message: InboundMessage) -> BecknModel | None:
        if expired(message):
            return None
        request = read_order(body(message, SelectMessage).order, provider_id=self.settings.provider)
        quote = await orders.quote(session, request, now=utcnow(), buyer=buyer(message))
        return OnSelectMessage(order=selection(self.settings, request, quote))


class InitHandler(BppHandler):
    async def admit(self, session: AsyncSession, message: InboundMessage) -> None:
        request = read_order(body(message, InitMessage).order, provider_id=self.settings.provider)
        await rules.active_terms(session, request.offer, request.item_id)

    async def answer(self, session: AsyncSession, message: InboundMessage) -> BecknModel | None:
        if expired(message):
            return None
        request = read_order(body(message, InitMessage).order, provider_id=self.settings.provider)
        order = await orders.draft(
            session,
            buyer(message),
            self.settings.provider,
            request,
            order_rules=self.settings.order_rules,
            now=utcnow(),
            message_id=message.context.message_id,
        )
        return OnInitMessage(order=order_message(self.settings, order))


class ConfirmHandler(BppHandler):
    async def admit(self, session: AsyncSession, message: InboundMessage) -> None:
        request = read_order(body(message, ConfirmMessage).order, provider_id=self.settings.provider)
        await orders.confirm(
            session, buyer(message), request, now=utcnow(), message_id=message.context.message_id
        )

    async def answer(self, session: AsyncSession, message: InboundMessage) -> BecknModel | None:
        context = message.context
        order = await orders.in_transaction(session, context.bap_id, context.transaction_id)
        return OnConfirmMessage(order=order_message(self.settings, order))


class StatusHandler(BppHandler):
    async def admit(self, session: AsyncSession, message: InboundMessage) -> None:
        await orders.get(session, read_status(body(message, StatusMessage)), bap_id=message.context.bap_id)

    async def answer(self, session: AsyncSession, message: InboundMessage) -> BecknModel | None:
        order_id = read_status(body(message, StatusMessage))
        order = await orders.get(session, order_id, bap_id=message.context.bap_id)
        return OnStatusMessage(order=await reporting.order_status(session, self.settings, order))


class UpdateHandler(BppHandler):
    async def admit(self, session: AsyncSession, message: InboundMessage) -> None:
        order_id, change = read_update(body(message, UpdateMessage))
        await orders.update(
            session,
            message.context.bap_id,
            order_id,
            change,
            order_rules=self.settings.order_rules,
            now=utcnow(),
            message_id=message.context.message_id,
        )

    async def answer(self, session: AsyncSession, message: InboundMessage) -> BecknModel | None:
        order_id, _ = read_update(body(message, UpdateMessage))
        order = await orders.get(session, order_id, bap_id=message.context.bap_id)
        return OnUpdateMessage(order=order_message(self.settings, order))


class CancelHandler(BppHandler):
    async def admit(self, session: AsyncSession, message: InboundMessage) -> None:
        order_id, request = read_cancel(body(message, CancelMessage))
        context = message.context
        await orders.cancel(
            session, context.bap_id, order_id, request, now=utcnow(), message_id=context.message_id
        )

    async def answer(self, session: AsyncSession, message: InboundMessage) -> BecknModel | None:
        order_id, _ = read_cancel(body(message, CancelMessage))
        order = await orders.get(session, order_id, bap_id=message.context.bap_id)
        return OnCancelMessage(order=order_message(self.settings, order))


def bpp_handlers(runtime: ParticipantRuntime, settings: BppSettings) -> Mapping[Action, ActionHandler]:
    """The aggregator's table; track, rating and support are left out, so they are NACKed 40001."""
    return {
        Action.SEARCH: SearchHandler(runtime, settings),
        Action.SELECT: SelectHandler(runtime, settings),
        Action.INIT: InitHandler(runtime, settings),
        Action.CONFIRM: ConfirmHandler(runtime, settings),
        Action.STATUS: StatusHandler(runtime, settings),
        Action.UPDATE: UpdateHandler(runtime, settings),
        Action.CANCEL: CancelHandler(runtime, settings),
    }
