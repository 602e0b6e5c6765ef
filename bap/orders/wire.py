"""Order messages on the wire: what we send to an aggregator at each step, and what we read back.

One order carries every offer taken from one aggregator: an item per offer with the kW selected, and one
fulfillment whose stop holds the event window. The same order body travels in select, init and confirm,
growing the quote (from on_select / on_init), billing and payment terms on the way, as Beckn expects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bap.numbers import decimal_or_none
from schemas.core_v1 import (
    Billing,
    CancelMessage,
    ConfirmMessage,
    Descriptor,
    Fulfillment,
    InitMessage,
    Item,
    ItemQuantity,
    Order,
    Payment,
    PaymentType,
    Provider,
    QuantityAmount,
    Quotation,
    Scalar,
    SelectMessage,
    StatusMessage,
    Stop,
    TagGroup,
    Time,
    TimeRange,
    UpdateMessage,
)
from schemas.profile import read_tag_group

KW_UNIT = "kW"


@dataclass(frozen=True)
class Line:
    """One offer taken: which item, how many kW, at what price and reliability (stored as JSON)."""

    offer_id: str
    item_id: str
    kw: Decimal
    price_per_kwh: Decimal
    reliability: Decimal
    fulfillment_id: str | None = None

    def stored(self) -> dict[str, str | None]:
        return {
            "offer_id": self.offer_id,
            "item_id": self.item_id,
            "kw": str(self.kw),
            "price_per_kwh": str(self.price_per_kwh),
            "reliability": str(self.reliability),
            "fulfillment_id": self.fulfillment_id,
        }

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> Line:
        return cls(
            offer_id=str(data["offer_id"]),
            item_id=str(data["item_id"]),
            kw=Decimal(str(data["kw"])),
            price_per_kwh=Decimal(str(data["price_per_kwh"])),
            reliability=Decimal(str(data["reliability"])),
            fulfillment_id=data.get("fulfillment_id"),
        )


@dataclass(frozen=True)
class Draft:
    """What the order body is made of, independent of the table it is stored in."""

    provider_id: str
    lines: Sequence[Line]
    window_start: datetime
    window_end: datetime
    quote: Mapping[str, Any] | None = None
    bpp_order_id: str | None = None


def order_body(draft: Draft, *, billing: Billing | None = None, with_payment: bool = False) -> Order:
    fulfillment_id = next((line.fulfillment_id for line in draft.lines if line.fulfillment_id), None)
    return Order(
        id=draft.bpp_order_id,
        provider=Provider(id=draft.provider_id),
        items=[
            Item(
                id=line.item_id,
                quantity=ItemQuantity(
                    selected=QuantityAmount(measure=Scalar(value=str(line.kw), unit=KW_UNIT))
                ),
                fulfillment_ids=[fulfillment_id] if fulfillment_id else None,
            )
            for line in draft.lines
        ],
        fulfillments=[
            Fulfillment(
                id=fulfillment_id,
                stops=[
                    Stop(
                        type="event",
                        time=Time(range=TimeRange(start=draft.window_start, end=draft.window_end)),
                    )
                ],
            )
        ],
        quote=Quotation.model_validate(draft.quote) if draft.quote else None,
        billing=billing,
        payments=[Payment(type=PaymentType.POST_FULFILLMENT, collected_by="BPP")] if with_payment else None,
    )


def select_message(draft: Draft) -> SelectMessage:
    return SelectMessage(order=order_body(draft))


def init_message(draft: Draft, billing: Billing) -> InitMessage:
    return InitMessage(order=order_body(draft, billing=billing, with_payment=True))


def confirm_message(draft: Draft, billing: Billing) -> ConfirmMessage:
    return ConfirmMessage(order=order_body(draft, billing=billing, with_payment=True))


def update_message(draft: Draft) -> UpdateMessage:
    """A changed window or kW: the whole fulfillment and items as they should now be."""
    return UpdateMessage(update_target="fulfillment,item", order=order_body(draft))


def cancel_message(bpp_order_id: str, reason: str) -> CancelMessage:
    return CancelMessage(
        order_id=bpp_order_id, cancellation_reason_id="0", descriptor=Descriptor(short_desc=reason[:200])
    )


def status_message(bpp_order_id: str) -> StatusMessage:
    return StatusMessage(order_id=bpp_order_id)


# -- reading callbacks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    total: Decimal | None
    currency: str | None
    selected_kw: Decimal | None
    body: dict[str, Any] | None


def read_quote(order: Order | None) -> Quote:
    """The quoted total and the kW the aggregator agreed to (None when it did not say)."""
    if order is None or order.quote is None:
        return Quote(None, None, _selected_kw(order), None)
    price = order.quote.price
    return Quote(
        total=decimal_or_none(price.value if price else None),
        currency=price.currency if price else None,
        selected_kw=_selected_kw(order),
        body=order.quote.dump(),
    )


def _selected_kw(order: Order | None) -> Decimal | None:
    if order is None or not order.items:
        return None
    total = Decimal(0)
    for item in order.items:
        quantity = item.quantity
        measure = quantity.selected.measure if quantity and quantity.selected else None
        value = decimal_or_none(measure.value if measure else None)
        if value is None:
            return None
        total += value
    return total


@dataclass(frozen=True)
class Progress:
    """What an on_confirm / on_status / on_update says about an order's delivery."""

    bpp_order_id: str | None
    status: str | None
    fulfillment_state: str | None
    commitment: dict[str, str]
    performance: dict[str, str]
    settlement: dict[str, str]


def read_progress(order: Order) -> Progress:
    fulfillment_state = None
    for fulfillment in order.fulfillments or []:
        state = fulfillment.state
        if state is not None and state.descriptor is not None and state.descriptor.code:
            fulfillment_state = state.descriptor.code.upper()
            break
    groups = list(_tag_groups(order))
    return Progress(
        bpp_order_id=order.id,
        status=str(order.status) if order.status is not None else None,
        fulfillment_state=fulfillment_state,
        commitment=read_tag_group(groups, "commitment") or {},
        performance=read_tag_group(groups, "performance") or {},
        settlement=read_tag_group(groups, "settlement") or {},
    )


VERDICTS = frozenset({"COMPLETED", "PARTIAL"})


def reported_verdict(fulfillment_state: str | None, settlement: Mapping[str, str]) -> str | None:
    """COMPLETED or PARTIAL when a report says how the event went: its fulfillment state does until the
    order is settled, then the settlement does (a shortfall means the delivery fell below the tolerance)."""
    if fulfillment_state in VERDICTS:
        return fulfillment_state
    shortfall = decimal_or_none(settlement.get("shortfall_kwh"))
    if shortfall is None:
        return None
    return "PARTIAL" if shortfall > 0 else "COMPLETED"


def _tag_groups(order: Order) -> Iterable[TagGroup]:
    """Profile groups may ride on the order, its fulfillments or its items; the order's come first."""
    yield from order.tags or []
    for fulfillment in order.fulfillments or []:
        yield from fulfillment.tags or []
    for item in order.items or []:
        yield from item.tags or []
