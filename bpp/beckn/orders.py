"""Orders on the wire: the quote of on_select, the draft of on_init, the contract of every later callback."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from bpp.beckn.catalog import provider_descriptor
from bpp.beckn.wire import (
    EVENT_FULFILLMENT_ID,
    cancellation_term,
    event_fulfillment,
    kilowatts,
    money,
    offer_name,
    post_fulfillment_payment,
)
from bpp.fleet.models import format_kw
from bpp.orders.models import Order
from bpp.orders.pricing import Quote
from bpp.orders.requests import FlexRequest, Window
from bpp.orders.service import Quotation, offer_of, snapshot_of, window_of
from bpp.orders.states import OrderStatus
from bpp.settings import BppSettings
from schemas import core_v1 as beckn
from schemas.core_v1 import (
    Billing,
    Cancellation,
    Descriptor,
    Item,
    ItemQuantity,
    Option,
    Party,
    PaymentStatus,
    Provider,
    QuantityAmount,
    QuotationBreakup,
    TagGroup,
    format_decimal,
    format_duration,
)
from schemas.profile import tag_group

CONFIRMED = (OrderStatus.ACTIVE, OrderStatus.COMPLETE)


def quotation(quote: Quote, item_id: str, *, ttl: timedelta | None = None) -> beckn.Quotation:
    """Total and breakup: energy (kW × h × price/kWh) and, when the offer has one, the reservation."""
    breakup = [
        QuotationBreakup(
            item=Item(id=item_id),
            title=f"energy: {format_kw(quote.kw)} kW x {format_decimal(quote.hours)} h "
            f"at {format_decimal(quote.price_per_kwh)} {quote.currency}/kWh",
            price=money(quote.currency, quote.energy_amount),
        )
    ]
    if quote.reservation_amount is not None and quote.reservation_price_per_kw is not None:
        breakup.append(
            QuotationBreakup(
                item=Item(id=item_id),
                title=f"reservation: {format_kw(quote.kw)} kW "
                f"at {format_decimal(quote.reservation_price_per_kw)} {quote.currency}/kW",
                price=money(quote.currency, quote.reservation_amount),
            )
        )
    return beckn.Quotation(
        price=money(quote.currency, quote.total),
        breakup=breakup,
        ttl=format_duration(ttl) if ttl is not None else None,
    )


def order_item(item_id: str, grid_node: str, kw: Decimal, quote: Quote, name: str) -> Item:
    return Item(
        id=item_id,
        descriptor=Descriptor(name=name),
        price=money(quote.currency, quote.price_per_kwh),
        quantity=ItemQuantity(selected=QuantityAmount(measure=kilowatts(kw))),
        location_ids=[grid_node],
        fulfillment_ids=[EVENT_FULFILLMENT_ID],
    )


def selection(settings: BppSettings, request: FlexRequest, quote: Quotation) -> beckn.Order:
    """on_select: the chosen kW and window, priced, with the quote's ttl."""
    assert request.kw is not None and request.window is not None
    offer = request.offer
    return beckn.Order(
        provider=Provider(id=settings.provider, descriptor=provider_descriptor(settings)),
        items=[
            order_item(
                request.item_id,
                offer.grid_node,
                request.kw,
                quote.quote,
                offer_name(offer.grid_node, offer.direction),
            )
        ],
        fulfillments=[event_fulfillment(request.window, grid_node=offer.grid_node)],
        quote=quotation(quote.quote, request.item_id, ttl=settings.order_rules.quote_ttl),
    )


def order_message(settings: BppSettings, order: Order) -> beckn.Order:
    """A persisted order as every callback from on_init on shows it."""
    snapshot, window, offer = snapshot_of(order), window_of(order), offer_of(order)
    quote = Quote.from_json(order.quote)
    confirmed = order.status is not OrderStatus.DRAFT
    wire = beckn.Order(
        id=order.id if confirmed else None,
        status=beckn.OrderStatus(order.status) if confirmed else None,
        provider=Provider(id=order.provider_id, descriptor=provider_descriptor(settings)),
        items=[
            order_item(
                order.item_id, order.grid_node, order.kw, quote, offer_name(offer.grid_node, offer.direction)
            )
        ],
        fulfillments=[
            event_fulfillment(
                window,
                grid_node=order.grid_node,
                state=order.fulfillment_state,
                updated_at=order.updated_at if order.fulfillment_state is not None else None,
            )
        ],
        quote=_order_quote(settings, order, quote),
        billing=Billing.model_validate(order.billing) if order.billing is not None else None,
        payments=[post_fulfillment_payment(quote.currency, quote.total, status=PaymentStatus.NOT_PAID)],
        cancellation_terms=[
            cancellation_term(
                currency=snapshot.currency,
                fee=snapshot.cancellation_fee,
                cancel_before=timedelta(seconds=snapshot.cancel_before_s),
                window=window,
            )
        ],
        created_at=order.created_at if confirmed else None,
        updated_at=order.updated_at if confirmed else None,
    )
    if order.status in CONFIRMED:
        wire.tags = [commitment_tags(order, window)]
    if order.status is OrderStatus.CANCELLED:
        wire.cancellation = _cancellation(order)
    return wire


def commitment_tags(order: Order, window: Window) -> TagGroup:
    return tag_group(
        "commitment",
        {
            "committed_kw": order.kw,
            "devices": order.committed_devices or 0,
            "grid_node": order.grid_node,
            "window_start": window.start,
            "window_end": window.end,
        },
    )


def _order_quote(settings: BppSettings, order: Order, quote: Quote) -> beckn.Quotation:
    if order.status is OrderStatus.CANCELLED and order.cancellation is not None:
        fee = Decimal(order.cancellation.get("fee", "0"))
        return beckn.Quotation(
            price=money(order.currency, fee),
            breakup=[
                QuotationBreakup(
                    item=Item(id=order.item_id), title="cancellation fee", price=money(order.currency, fee)
                )
            ],
        )
    # A draft's quote is firm while its kW are held (on_init): the hold's lifetime is the quote's ttl.
    ttl = settings.order_rules.held_for if order.status is OrderStatus.DRAFT else None
    return quotation(quote, order.item_id, ttl=ttl)


def _cancellation(order: Order) -> Cancellation:
    details = order.cancellation or {}
    reason_id, description = details.get("reason_id"), details.get("description")
    return Cancellation(
        time=order.cancelled_at,
        cancelled_by=Party.CONSUMER,
        reason=Option(id=reason_id) if reason_id else None,
        additional_description=Descriptor(short_desc=description) if description else None,
    )
