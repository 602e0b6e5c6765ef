"""A scriptable aggregator BPP for the BAP's tests: real HTTP, real signatures, real registry keys.

It answers search with profile-valid offers, select with a quote (kW × price × hours × `quote_factor`),
init with payment terms, confirm with an order id and a `commitment`; it can NACK or ignore any request,
and `POST /test/progress` pushes an unsolicited `on_status` with `performance` (and `settlement`),
written now or, as a report retried by an outbox would be, at an earlier `written_at`.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from participant.app import ParticipantRuntime, Role, RuntimeDep, SessionDep, create_participant_app
from participant.errors import BecknNack
from participant.inbound import ActionHandler, BaseActionHandler, InboundMessage
from participant.settings import ParticipantSettings
from schemas.core_v1 import IMPLEMENTED_ACTIONS, Action, Context, Order
from schemas.errors import ErrorCode
from schemas.profile import tag_group


@dataclass(frozen=True)
class Offer:
    item_id: str
    kw: Decimal
    price: Decimal
    reliability: Decimal = Decimal("0.95")
    min_kw: Decimal = Decimal(0)
    grid_node: str = "transformer:TX-17"


@dataclass
class Script:
    offers: list[Offer]
    nack: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    quote_factor: Decimal = Decimal(1)
    late: dict[str, float] = field(default_factory=dict)
    """Seconds to hold the callback of an action: an aggregator slower than the BAP's timeout."""
    devices: int = 4


@dataclass
class Book:
    """What the aggregator saw and confirmed, readable from the test thread."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    transactions: dict[str, str] = field(default_factory=dict)

    def actions(self) -> list[str]:
        with self.lock:
            return [action for action, _ in self.received]


def _hours(order: Order) -> Decimal:
    stop = (order.fulfillments or [])[0].stops[0]  # type: ignore[index]
    window = stop.time.range  # type: ignore[union-attr]
    return Decimal((window.end - window.start).total_seconds()) / Decimal(3600)  # type: ignore[union-attr, operator]


class ScriptedAggregator(BaseActionHandler):
    def __init__(self, runtime: ParticipantRuntime, script: Script, book: Book) -> None:
        self.runtime = runtime
        self.script = script
        self.book = book

    async def accept(self, session: AsyncSession, message: InboundMessage) -> None:
        with self.book.lock:
            self.book.received.append((message.action.value, message.envelope.dump()))
        if message.action.value in self.script.nack:
            raise BecknNack(ErrorCode.ITEM_QUANTITY_UNAVAILABLE, "the capacity is no longer available")

    async def process(self, message: InboundMessage) -> None:
        if message.action.value in self.script.silent:
            return
        if message.action.value in self.script.late:
            await asyncio.sleep(self.script.late[message.action.value])
        reply = self.reply(message)
        sender = self.runtime.sender
        async with self.runtime.session_factory() as session, session.begin():
            await sender.send(
                session,
                action=message.action.callback,
                context=sender.reply_context(message.context),
                message=reply,
            )

    def reply(self, message: InboundMessage) -> dict[str, Any]:
        body = message.envelope.message
        action = message.action
        if action is Action.SEARCH:
            return {"catalog": self.catalog()}
        if action in (Action.STATUS, Action.CANCEL):
            order_id = getattr(body, "order_id", None) or ""
            with self.book.lock:
                known = dict(self.book.orders.get(order_id, {"id": order_id}))
                if action is Action.CANCEL and order_id in self.book.orders:
                    known["status"] = "CANCELLED"
                    known["fulfillments"][0]["state"] = {"descriptor": {"code": "CANCELLED"}}
                    self.book.orders[order_id] = known
            return {"order": known}
        order = getattr(body, "order", None)
        assert isinstance(order, Order)
        data = order.dump()
        total = sum(
            (Decimal(item.quantity.selected.measure.value) for item in order.items or []),  # type: ignore[union-attr, arg-type]
            Decimal(0),
        )
        if action in (Action.SELECT, Action.INIT):
            data["quote"] = self.quote(order, total)
            data["provider"] = {"id": self.runtime.settings.subscriber_id}
            return {"order": data}
        if action is Action.CONFIRM:
            order_id = f"ord-{uuid.uuid4().hex[:12]}"
            data.update(id=order_id, status="ACTIVE", quote=self.quote(order, total))
            data["fulfillments"][0]["state"] = {"descriptor": {"code": "SCHEDULED"}}
            data["tags"] = [
                tag_group("commitment", {"committed_kw": total, "devices": self.script.devices}).dump()
            ]
            with self.book.lock:
                self.book.orders[order_id] = data
                self.book.transactions[order_id] = message.context.transaction_id
            return {"order": data}
        assert action is Action.UPDATE
        with self.book.lock:
            stored = self.book.orders.get(order.id or "", data)
            stored = {**stored, "items": data["items"], "fulfillments": data["fulfillments"]}
            stored["fulfillments"][0]["state"] = {"descriptor": {"code": "SCHEDULED"}}
            stored["tags"] = [
                tag_group("commitment", {"committed_kw": total, "devices": self.script.devices}).dump()
            ]
            self.book.orders[order.id or ""] = stored
        return {"order": stored}

    def quote(self, order: Order, kw: Decimal) -> dict[str, Any]:
        prices = {offer.item_id: offer.price for offer in self.script.offers}
        hours = _hours(order)
        breakup = []
        total = Decimal(0)
        for item in order.items or []:
            item_kw = Decimal(item.quantity.selected.measure.value)  # type: ignore[union-attr, arg-type]
            amount = (
                item_kw * prices.get(item.id or "", Decimal(0)) * hours * self.script.quote_factor
            ).quantize(Decimal("0.01"))
            total += amount
            breakup.append(
                {
                    "item": {"id": item.id},
                    "title": "flexibility",
                    "price": {"currency": "INR", "value": str(amount)},
                }
            )
        return {"price": {"currency": "INR", "value": str(total)}, "breakup": breakup}

    def catalog(self) -> dict[str, Any]:
        subscriber = self.runtime.settings.subscriber_id
        items = [
            {
                "id": offer.item_id,
                "descriptor": {"name": f"{subscriber} {offer.item_id}"},
                "price": {"currency": "INR", "value": str(offer.price)},
                "quantity": {"available": {"measure": {"value": str(offer.kw), "unit": "kW"}}},
                "tags": [
                    tag_group(
                        "flex_offer",
                        {
                            "direction": "REDUCE",
                            "grid_node": offer.grid_node,
                            "min_kw": offer.min_kw,
                            "max_kw": offer.kw,
                            "response_time": "PT5M",
                            "max_duration": "PT4H",
                            "baseline_method": "X_OF_Y_10_10",
                            "reliability": offer.reliability,
                            "device_types": "BATTERY,FLEXIBLE_LOAD",
                        },
                    ).dump()
                ],
            }
            for offer in self.script.offers
        ]
        return {"descriptor": {"name": subscriber}, "providers": [{"id": subscriber, "items": items}]}


class ProgressIn(BaseModel):
    bap_id: str
    bap_uri: str
    order_id: str
    state: str
    delivered_kw: Decimal
    devices_acked: int
    devices_opted_out: int = 0
    settled_amount: Decimal | None = None
    shortfall_kwh: Decimal = Decimal(0)
    written_at: datetime | None = None
    """The report's `context.timestamp`; now when not given."""


def test_router(book: Book) -> APIRouter:
    router = APIRouter(prefix="/test")

    @router.post("/progress")
    async def progress(push: ProgressIn, runtime: RuntimeDep, session: SessionDep) -> dict[str, str]:
        """An unsolicited on_status: the order's fulfillment state and performance figures."""
        with book.lock:
            order = dict(book.orders[push.order_id])
        committed = Decimal(str(order["tags"][0]["list"][0]["value"]))
        order["fulfillments"][0]["state"] = {"descriptor": {"code": push.state}}
        tags = [
            order["tags"][0],
            tag_group(
                "performance",
                {
                    "baseline_kw": committed * 2,
                    "actual_kw": committed * 2 - push.delivered_kw,
                    "delivered_kw": push.delivered_kw,
                    "delivered_kwh": push.delivered_kw,
                    "devices_acked": push.devices_acked,
                    "devices_opted_out": push.devices_opted_out,
                    "intervals": 4,
                },
            ).dump(),
        ]
        if push.settled_amount is not None:
            tags.append(
                tag_group(
                    "settlement",
                    {
                        "delivered_kwh": push.delivered_kw,
                        "rate_per_kwh": "0.3",
                        "gross_amount": push.settled_amount,
                        "shortfall_kwh": push.shortfall_kwh,
                        "penalty_amount": 0,
                        "net_amount": push.settled_amount,
                        "currency": "INR",
                    },
                ).dump()
            )
        order["tags"] = tags
        with book.lock:
            book.orders[push.order_id] = order
            transaction_id = book.transactions[push.order_id]
        sender = runtime.sender
        request = Context.new(
            action=Action.STATUS,
            domain=runtime.settings.domain,
            bap_id=push.bap_id,
            bap_uri=push.bap_uri,
            transaction_id=transaction_id,
        )
        context = sender.reply_context(request, Action.ON_STATUS, unsolicited=True)
        if push.written_at is not None:
            context = context.model_copy(update={"timestamp": push.written_at})
        await sender.send(session, action=Action.ON_STATUS, context=context, message={"order": order})
        return {"message_id": context.message_id}

    return router


def build_aggregator_app(settings: ParticipantSettings, script: Script, book: Book) -> FastAPI:
    def handlers(runtime: ParticipantRuntime) -> Mapping[Action, ActionHandler]:
        handler = ScriptedAggregator(runtime, script, book)
        return {action: handler for action in IMPLEMENTED_ACTIONS}

    return create_participant_app(settings, role=Role.BPP, handlers=handlers, routers=[test_router(book)])
