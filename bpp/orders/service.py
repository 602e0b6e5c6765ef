"""The order lifecycle: quote, draft (holding capacity), confirm (committing it), update, cancel and
state changes.

Functions take the caller's session and typed requests, flush, and never commit. Every change that moves
capacity (draft, confirm, update, cancel) locks the order row first and goes through
`bpp.capacity.service`, which locks the grid node: two messages racing for the same kW are served one
after the other, and the second sees the first. A draft holds its kW for `OrderRules.held_for`; the
order's own hold counts as free for its re-init and its confirm, and is released by cancel. Each change
appends an event to the order's history; changes the devices must follow also queue a task for the
dispatcher, in the same transaction (`bpp.orders.history`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.capacity import service as capacity
from bpp.capacity.errors import CapacityError, CapacityUnavailable
from bpp.capacity.models import Reservation, ReservationStatus
from bpp.capacity.repository import ReservationRepository
from bpp.capacity.rules import device_kw
from bpp.fleet.models import format_kw, kinds_serving
from bpp.fleet.repository import DerRepository
from bpp.offers.models import OfferTerms
from bpp.offers.rules import format_duration
from bpp.orders import history, rules
from bpp.orders.errors import (
    Field,
    InvalidOrderRequest,
    InvalidTransition,
    NotCancellable,
    NotUpdatable,
    OrderNotFound,
    QuantityUnavailable,
    QuoteExpired,
)
from bpp.orders.history import commitment_of
from bpp.orders.models import DispatchKind, Order, OrderEvent, OrderEventKind
from bpp.orders.pricing import Quote, price
from bpp.orders.repository import OrderRepository
from bpp.orders.requests import Buyer, CancelRequest, FlexRequest, OfferRef, OrderChange, Window
from bpp.orders.schemas import TermsSnapshot
from bpp.orders.states import FulfillmentState, OrderStatus, can_move, status_for
from participant.db import new_id
from participant.messagelog import MessageLogRepository, MessageRecord
from schemas.core_v1 import format_decimal


@dataclass(frozen=True)
class OrderRules:
    """The aggregator's own rules on top of the offer terms (from `BppSettings`)."""

    quote_ttl: timedelta = timedelta(minutes=15)
    # How long init holds the quoted kW for the buyer's confirm (never longer than the quote).
    hold_ttl: timedelta = timedelta(minutes=10)
    # Changes close this long before the event starts; None: the offer's minimum notice.
    update_cutoff: timedelta | None = None

    @property
    def held_for(self) -> timedelta:
        """How long a draft's kW are held: a hold never outlives the quote it backs."""
        return min(self.hold_ttl, self.quote_ttl)


@dataclass(frozen=True)
class Quotation:
    terms: OfferTerms
    quote: Quote


def offer_of(order: Order) -> OfferRef:
    return OfferRef(order.grid_node, order.direction)


def window_of(order: Order) -> Window:
    return Window(order.window_start, order.window_end)


def snapshot_of(order: Order) -> TermsSnapshot:
    return TermsSnapshot.model_validate(order.terms)


# -- negotiation ---------------------------------------------------------------------------------------


async def quote(
    session: AsyncSession, request: FlexRequest, *, now: datetime, buyer: Buyer | None = None
) -> Quotation:
    """Price a request that fits the offer's terms and the kW free now; nothing is held. The hold of
    the buyer's own draft in that transaction (when given) counts as free for it."""
    order = None
    if buyer is not None:
        order = await OrderRepository(session).in_transaction(buyer.bap_id, buyer.transaction_id)
    return await _quote(session, request, now=now, hold=await hold_of(session, order))


async def draft(
    session: AsyncSession,
    buyer: Buyer,
    provider_id: str,
    request: FlexRequest,
    *,
    order_rules: OrderRules,
    now: datetime,
    message_id: str | None = None,
) -> Order:
    """init: the order of this transaction as a DRAFT whose kW are held for `order_rules.held_for`,
    re-drafted (its hold replaced) as often as the buyer inits again. A refused init leaves the previous
    draft and its hold as they were."""
    repository = OrderRepository(session)
    order = await repository.in_transaction(buyer.bap_id, buyer.transaction_id, lock=True)
    previous = await hold_of(session, order)
    quotation = await _quote(session, request, now=now, hold=previous)
    if order is not None and order.status is not OrderStatus.DRAFT:
        raise InvalidOrderRequest(
            f"the order of transaction {buyer.transaction_id} is already {order.status}; "
            "change it with update, or start a new transaction"
        )
    kw, window = _kw_and_window(request)
    order_id = order.id if order is not None else new_id()
    hold = await _hold(session, buyer.bap_id, order_id, request.offer, kw, window, previous, order_rules, now)
    values: dict[str, Any] = {
        "bap_uri": buyer.bap_uri,
        "provider_id": provider_id,
        "item_id": request.item_id,
        "grid_node": request.offer.grid_node,
        "direction": request.offer.direction,
        "kw": kw,
        "window_start": window.start,
        "window_end": window.end,
        "price_per_kwh": quotation.quote.price_per_kwh,
        "currency": quotation.quote.currency,
        "quote": quotation.quote.as_json(),
        "quote_expires_at": now + order_rules.quote_ttl,
        "billing": request.billing,
        "terms": TermsSnapshot.model_validate(quotation.terms).model_dump(mode="json"),
        "reservation_id": hold.id,
        "updated_at": now,
    }
    if order is None:
        order = await repository.add(
            Order(
                id=order_id,
                bap_id=buyer.bap_id,
                transaction_id=buyer.transaction_id,
                status=OrderStatus.DRAFT,
                created_at=now,
                **values,
            )
        )
    else:
        for name, value in values.items():
            setattr(order, name, value)
        await repository.flush()
    await history.record(
        session,
        order,
        OrderEventKind.DRAFTED,
        now,
        {**commitment_of(order), "quote": order.quote, "held_until": _held_until(hold)},
        message_id=message_id,
    )
    return order


async def confirm(
    session: AsyncSession,
    buyer: Buyer,
    request: FlexRequest,
    *,
    now: datetime,
    message_id: str | None = None,
) -> Order:
    """DRAFT → ACTIVE: commit the kW on the grid node (the draft's own hold counting as free for them),
    or refuse; confirming again changes nothing."""
    repository = OrderRepository(session)
    order = await repository.in_transaction(buyer.bap_id, buyer.transaction_id, lock=True)
    if order is None:
        raise OrderNotFound(
            f"no order was initialised in transaction {buyer.transaction_id}: send init before confirm"
        )
    if order.status in (OrderStatus.ACTIVE, OrderStatus.COMPLETE):
        return order
    if order.status is OrderStatus.CANCELLED:
        raise InvalidOrderRequest(f"order {order.id} was cancelled; start a new transaction")
    _check_same_as_draft(order, request)
    if now > order.quote_expires_at:
        raise QuoteExpired(
            f"the quote expired at {order.quote_expires_at.isoformat()}: send init again for a new one"
        )
    offer, window = offer_of(order), window_of(order)
    hold = await hold_of(session, order)
    terms = await rules.active_terms(session, offer, order.item_id)
    day_events = await rules.events_that_day(session, offer, window, own=hold, now=now)
    rules.check_terms(terms, order.kw, window, now, events_that_day=day_events)
    try:
        reservation = await capacity.reserve(
            session,
            grid_node=order.grid_node,
            direction=order.direction,
            kw=order.kw,
            window_start=order.window_start,
            window_end=order.window_end,
            holder=buyer.bap_id,
            order_id=order.id,
            replacing=hold.id if hold is not None else None,
            now=now,
        )
    except CapacityUnavailable as exc:
        raise _unavailable(exc, order.kw) from None
    except CapacityError as exc:
        raise InvalidOrderRequest(str(exc)) from None
    if request.billing is not None:
        order.billing = request.billing
    order.reservation_id = reservation.id
    order.committed_devices = await committed_devices(session, offer, window)
    order.confirmed_at = now
    _move(order, FulfillmentState.SCHEDULED, now)
    await repository.flush()
    await history.record(
        session, order, OrderEventKind.CONFIRMED, now, commitment_of(order), message_id=message_id
    )
    await history.queue_dispatch(session, order, DispatchKind.SCHEDULE, now)
    return order


async def hold_of(session: AsyncSession, order: Order | None) -> Reservation | None:
    """The hold a draft placed at init, expired or not (an expired one no longer counts for anyone)."""
    if order is None or order.status is not OrderStatus.DRAFT or order.reservation_id is None:
        return None
    reservation = await ReservationRepository(session).get(order.reservation_id)
    if reservation is None or reservation.status is not ReservationStatus.HELD:
        return None
    return reservation


async def committed_devices(session: AsyncSession, offer: OfferRef, window: Window) -> int:
    """ONLINE devices on the node that can contribute in that direction over the window."""
    devices = await DerRepository(session).online(
        grid_node=offer.grid_node, kinds=kinds_serving(offer.direction)
    )
    return sum(1 for der in devices if device_kw(der, offer.direction, window.duration) > 0)


# -- after confirmation --------------------------------------------------------------------------------


async def get(session: AsyncSession, order_id: str, *, bap_id: str | None = None) -> Order:
    """The order (of that BAP, when given); OrderNotFound otherwise."""
    repository = OrderRepository(session)
    order = await (repository.get(order_id) if bap_id is None else repository.for_bap(order_id, bap_id))
    if order is None:
        raise OrderNotFound(f"no order {order_id!r}", field=Field.ORDER_ID)
    return order


async def in_transaction(session: AsyncSession, bap_id: str, transaction_id: str) -> Order:
    """The order negotiated in that BAP's transaction; OrderNotFound otherwise."""
    order = await OrderRepository(session).in_transaction(bap_id, transaction_id)
    if order is None:
        raise OrderNotFound(f"no order in transaction {transaction_id}")
    return order


async def update(
    session: AsyncSession,
    bap_id: str,
    order_id: str,
    change: OrderChange,
    *,
    order_rules: OrderRules,
    now: datetime,
    message_id: str | None = None,
) -> Order:
    """Change the kW and/or window of a SCHEDULED order, re-checked against the terms and capacity."""
    order = await _locked(session, order_id, bap_id)
    _check_updatable(order, order_rules, now)
    kw = change.kw if change.kw is not None else order.kw
    window = change.window or window_of(order)
    if kw == order.kw and window == window_of(order):
        return order
    offer = offer_of(order)
    terms = await rules.active_terms(session, offer, order.item_id)
    assert order.reservation_id is not None, "an ACTIVE order holds a reservation"
    own = await ReservationRepository(session).get(order.reservation_id)
    day_events = await rules.events_that_day(session, offer, window, own=own, now=now)
    rules.check_terms(terms, kw, window, now, events_that_day=day_events)
    try:
        await capacity.resize(
            session, order.reservation_id, kw=kw, window_start=window.start, window_end=window.end, now=now
        )
    except CapacityUnavailable as exc:
        raise _unavailable(exc, kw) from None
    except CapacityError as exc:
        raise NotUpdatable(str(exc)) from None
    before = commitment_of(order)
    order.kw, order.window_start, order.window_end = kw, window.start, window.end
    order.quote = _price(snapshot_of(order), kw, window).as_json()
    order.committed_devices = await committed_devices(session, offer, window)
    order.updated_at = now
    await OrderRepository(session).flush()
    changed = {"before": before, **commitment_of(order)}
    await history.record(session, order, OrderEventKind.UPDATED, now, changed, message_id=message_id)
    await history.queue_dispatch(session, order, DispatchKind.RESCHEDULE, now)
    return order


async def cancel(
    session: AsyncSession,
    bap_id: str,
    order_id: str,
    request: CancelRequest,
    *,
    now: datetime,
    message_id: str | None = None,
) -> Order:
    """Cancel a draft (releasing its hold), or a SCHEDULED order before its deadline (releasing its
    kW); twice is once."""
    order = await _locked(session, order_id, bap_id)
    if order.status is OrderStatus.CANCELLED:
        return order
    if order.status is not OrderStatus.DRAFT and order.fulfillment_state is not FulfillmentState.SCHEDULED:
        raise NotCancellable(f"order {order.id} is {order.fulfillment_state}: it can no longer be cancelled")
    fee = Decimal(0)
    was_active = order.status is OrderStatus.ACTIVE
    if was_active:
        snapshot = snapshot_of(order)
        rules.check_cancellable(snapshot, offer_of(order), window_of(order), now)
        assert order.reservation_id is not None, "an ACTIVE order holds a reservation"
        fee = snapshot.cancellation_fee
    if order.reservation_id is not None:
        await capacity.release(session, reservation_id=order.reservation_id, now=now)
    order.cancelled_at = now
    order.cancellation = {
        "cancelled_by": "CONSUMER",
        "reason_id": request.reason_id,
        "description": request.description,
        "fee": format_decimal(fee),
        "currency": order.currency,
    }
    _move(order, FulfillmentState.CANCELLED, now)
    await OrderRepository(session).flush()
    await history.record(
        session, order, OrderEventKind.CANCELLED, now, dict(order.cancellation), message_id=message_id
    )
    if was_active:
        await history.queue_dispatch(session, order, DispatchKind.RELEASE, now)
    return order


async def advance(
    session: AsyncSession,
    order_id: str,
    state: FulfillmentState,
    *,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> Order:
    """Move a confirmed order's fulfillment on (the dispatcher and metering call this)."""
    order = await _locked(session, order_id, None)
    if state is FulfillmentState.CANCELLED:
        raise InvalidTransition("orders are cancelled with `cancel`, which also releases their capacity")
    if order.fulfillment_state is None or not can_move(order.fulfillment_state, state):
        raise InvalidTransition(f"order {order.id} cannot go from {order.fulfillment_state} to {state}")
    previous = order.fulfillment_state
    _move(order, state, now)
    await OrderRepository(session).flush()
    changed = {"from": previous, "to": state, **(data or {})}
    await history.record(session, order, OrderEventKind.STATE_CHANGED, now, changed)
    return order


async def list_orders(session: AsyncSession, **filters: Any) -> Sequence[Order]:
    """Newest first; filters as `OrderRepository.search`."""
    return await OrderRepository(session).search(**filters)


async def events(session: AsyncSession, order_id: str) -> Sequence[OrderEvent]:
    return await OrderRepository(session).events(order_id)


async def timeline(session: AsyncSession, order: Order) -> list[MessageRecord]:
    """Every Beckn message of the order's transaction with its buyer, in and out, oldest first."""
    records = await MessageLogRepository(session).for_transaction(order.transaction_id)
    return [record for record in records if record.bap_id in (order.bap_id, None)]


# -- helpers -------------------------------------------------------------------------------------------


async def _quote(
    session: AsyncSession, request: FlexRequest, *, now: datetime, hold: Reservation | None
) -> Quotation:
    kw, window = _kw_and_window(request)
    terms = await rules.active_terms(session, request.offer, request.item_id)
    day_events = await rules.events_that_day(session, request.offer, window, own=hold, now=now)
    rules.check_terms(terms, kw, window, now, events_that_day=day_events)
    await rules.check_available(
        session, request.offer, kw, window, exclude_reservation_id=hold.id if hold else None, now=now
    )
    return Quotation(terms, _price(TermsSnapshot.model_validate(terms), kw, window))


async def _hold(
    session: AsyncSession,
    holder: str,
    order_id: str,
    offer: OfferRef,
    kw: Decimal,
    window: Window,
    previous: Reservation | None,
    order_rules: OrderRules,
    now: datetime,
) -> Reservation:
    """Hold the kW for the draft, in place of its previous hold when that was on the same node and
    direction (it counts as free); a hold elsewhere is released once the new one is placed."""
    in_place = previous is not None and (previous.grid_node, previous.direction) == (
        offer.grid_node,
        offer.direction,
    )
    try:
        hold = await capacity.reserve(
            session,
            grid_node=offer.grid_node,
            direction=offer.direction,
            kw=kw,
            window_start=window.start,
            window_end=window.end,
            holder=holder,
            order_id=order_id,
            status=ReservationStatus.HELD,
            expires_at=now + order_rules.held_for,
            replacing=previous.id if previous is not None and in_place else None,
            now=now,
        )
    except CapacityUnavailable as exc:
        raise _unavailable(exc, kw) from None
    except CapacityError as exc:
        raise InvalidOrderRequest(str(exc)) from None
    if previous is not None and not in_place:
        await capacity.release(session, reservation_id=previous.id, now=now)
    return hold


def _held_until(hold: Reservation) -> str | None:
    return hold.expires_at.isoformat() if hold.expires_at is not None else None


def _kw_and_window(request: FlexRequest) -> tuple[Decimal, Window]:
    if request.kw is None:
        raise InvalidOrderRequest("say how many kW: item.quantity.selected.measure", field=Field.QUANTITY)
    if request.window is None:
        raise InvalidOrderRequest("say when: fulfillments[].stops[].time.range", field=Field.WINDOW)
    return request.kw, request.window


def _price(snapshot: TermsSnapshot, kw: Decimal, window: Window) -> Quote:
    return price(
        kw,
        window,
        currency=snapshot.currency,
        price_per_kwh=snapshot.price_per_kwh,
        reservation_price_per_kw=snapshot.reservation_price_per_kw,
    )


def _check_same_as_draft(order: Order, request: FlexRequest) -> None:
    """confirm accepts the drafted order as it is; a different item, kW or window needs a new init."""
    if request.item_id != order.item_id:
        raise InvalidOrderRequest(
            f"confirm names item {request.item_id!r}, but {order.item_id!r} was initialised: send init again",
            field=Field.ITEM,
        )
    if request.kw is not None and request.kw != order.kw:
        raise InvalidOrderRequest(
            f"confirm asks {format_kw(request.kw)} kW, but {format_kw(order.kw)} kW were initialised: "
            "send init again",
            field=Field.QUANTITY,
        )
    if request.window is not None and request.window != window_of(order):
        raise InvalidOrderRequest(
            "confirm names another window than the one initialised: send init again", field=Field.WINDOW
        )


def _check_updatable(order: Order, order_rules: OrderRules, now: datetime) -> None:
    if order.status is not OrderStatus.ACTIVE or order.fulfillment_state is not FulfillmentState.SCHEDULED:
        state = order.fulfillment_state or order.status
        raise NotUpdatable(f"order {order.id} is {state}: only a SCHEDULED order can change")
    cutoff = order_rules.update_cutoff
    if cutoff is None:
        cutoff = timedelta(seconds=snapshot_of(order).min_notice_s)
    if now > order.window_start - cutoff:
        raise NotUpdatable(
            f"changes closed {format_duration(cutoff)} before the event, which starts at "
            f"{order.window_start.isoformat()}"
        )


async def _locked(session: AsyncSession, order_id: str, bap_id: str | None) -> Order:
    repository = OrderRepository(session)
    order = await (
        repository.get(order_id, lock=True)
        if bap_id is None
        else repository.for_bap(order_id, bap_id, lock=True)
    )
    if order is None:
        raise OrderNotFound(f"no order {order_id!r}", field=Field.ORDER_ID)
    return order


def _unavailable(exc: CapacityUnavailable, kw: Decimal) -> QuantityUnavailable:
    return QuantityUnavailable(
        f"only {format_kw(exc.available_kw)} kW of {exc.direction} are still available on {exc.grid_node} "
        f"over that window; {format_kw(kw)} kW asked",
        field=Field.QUANTITY,
    )


def _move(order: Order, state: FulfillmentState, now: datetime) -> None:
    if not can_move(order.fulfillment_state, state):
        raise InvalidTransition(f"order {order.id} cannot go from {order.fulfillment_state} to {state}")
    order.fulfillment_state = state
    order.status = status_for(state)
    order.updated_at = now
