"""The order lifecycle on a real database (SQLite and PostgreSQL): drafts, confirmation that reserves
capacity once, updates that move the reservation, cancellation that releases it, the state machine, the
history and the dispatcher's queue."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.capacity import service as capacity
from bpp.fleet.models import FlexDirection
from bpp.offers import service as offers
from bpp.orders import service as orders
from bpp.orders.errors import (
    InvalidOrderRequest,
    InvalidTransition,
    NotCancellable,
    NotUpdatable,
    OrderNotFound,
    QuantityUnavailable,
    QuoteExpired,
    TermsNotMet,
    UnknownItem,
)
from bpp.orders.models import DispatchKind, Order
from bpp.orders.repository import DispatchQueueRepository, OrderRepository
from bpp.orders.requests import Buyer, CancelRequest, FlexRequest, OfferRef, OrderChange, Window
from bpp.orders.service import OrderRules
from bpp.orders.states import FulfillmentState, OrderStatus
from schemas.errors import ErrorCode
from tests.bpp.factories import NODE, add_devices, at, battery_create, node_with_flex, offer_terms_in

REDUCE = FlexDirection.REDUCE
OFFER = OfferRef(NODE, REDUCE)
ITEM = f"{NODE}:REDUCE"
NOW = at(-2)
WINDOW = Window(at(0), at(2))
RULES = OrderRules()
BUYER = Buyer("utility.bap", "http://utility.test", "tx-1")
RIVAL = Buyer("rival.bap", "http://rival.test", "tx-9")


@pytest.fixture
async def tx17(session: AsyncSession) -> None:
    """TX-17: 120 + 80 kW of loads; REDUCE at 0.25/kWh + 1.5/kW, 10 % headroom: 180 kW to sell."""
    await node_with_flex(session, NODE, 120, 80)
    await offers.put_terms(session, NODE, REDUCE, offer_terms_in(reservation_price_per_kw="1.5"))
    await session.commit()


def request(kw: str = "80", window: Window | None = WINDOW, **values: object) -> FlexRequest:
    return FlexRequest(item_id=ITEM, offer=OFFER, kw=Decimal(kw), window=window, **values)  # type: ignore[arg-type]


async def confirmed(session: AsyncSession, kw: str = "80", buyer: Buyer = BUYER) -> Order:
    await orders.draft(session, buyer, "aggregator", request(kw), order_rules=RULES, now=NOW)
    order = await orders.confirm(session, buyer, request(kw), now=NOW)
    await session.commit()
    return order


async def test_a_quote_prices_energy_and_reservation(session: AsyncSession, tx17: None) -> None:
    quotation = await orders.quote(session, request("80"), now=NOW)

    quote = quotation.quote
    assert (quote.energy_amount, quote.reservation_amount, quote.total) == (
        Decimal("40.00"),
        Decimal("120.0"),
        Decimal(160),
    )


async def test_quotes_refuse_unknown_or_withdrawn_offers_terms_and_missing_capacity(
    session: AsyncSession, tx17: None
) -> None:
    with pytest.raises(UnknownItem):
        await orders.quote(
            session, FlexRequest(ITEM, OfferRef(NODE, FlexDirection.INCREASE), Decimal(10), WINDOW), now=NOW
        )
    with pytest.raises(QuantityUnavailable, match="only 180 kW of REDUCE are available"):
        await orders.quote(session, request("181"), now=NOW)
    with pytest.raises(TermsNotMet) as refused:
        await orders.quote(session, request("600", Window(at(0), at(5))), now=NOW)
    assert refused.value.code is ErrorCode.ITEM_QUANTITY_UNAVAILABLE  # above max_kw ranks before too long
    assert "above the maximum of 500 kW" in refused.value.message and "longer than" in refused.value.message
    with pytest.raises(InvalidOrderRequest):
        await orders.quote(session, FlexRequest(ITEM, OFFER, None, WINDOW), now=NOW)

    await offers.put_terms(session, NODE, REDUCE, offer_terms_in(active=False))
    with pytest.raises(UnknownItem):
        await orders.quote(session, request(), now=NOW)


async def test_init_drafts_one_order_per_transaction_and_redrafts_it(
    session: AsyncSession, tx17: None
) -> None:
    first = await orders.draft(session, BUYER, "aggregator", request("80"), order_rules=RULES, now=NOW)
    first_hold = first.reservation_id
    again = await orders.draft(
        session,
        BUYER,
        "aggregator",
        request("90", billing={"name": "Bay Utility"}),
        order_rules=RULES,
        now=NOW,
    )
    await session.commit()

    assert again.id == first.id
    assert (again.status, again.fulfillment_state, again.kw) == (OrderStatus.DRAFT, None, Decimal(90))
    assert again.billing == {"name": "Bay Utility"}
    assert again.quote_expires_at == NOW + RULES.quote_ttl
    assert again.terms["price_per_kwh"] == "0.2500" and again.terms["cancel_before_s"] == 3600
    assert [event.kind for event in await orders.events(session, first.id)] == ["DRAFTED", "DRAFTED"]
    assert first_hold is not None and again.reservation_id == first_hold, "the second init replaced its hold"
    assert await capacity.available_kw(session, NODE, REDUCE, WINDOW.start, WINDOW.end, now=NOW) == 90


async def test_confirm_reserves_once_and_queues_the_dispatch(session: AsyncSession, tx17: None) -> None:
    order = await confirmed(session, "80")
    again = await orders.confirm(session, BUYER, request("80"), now=NOW + timedelta(minutes=1))
    await session.commit()

    assert again.id == order.id and again.reservation_id == order.reservation_id
    assert (order.status, order.fulfillment_state) == (OrderStatus.ACTIVE, FulfillmentState.SCHEDULED)
    assert order.committed_devices == 2
    assert await capacity.available_kw(session, NODE, REDUCE, WINDOW.start, WINDOW.end) == 100
    (task,) = await DispatchQueueRepository(session).for_order(order.id)
    assert task.kind is DispatchKind.SCHEDULE
    assert task.payload["kw"] == "80" and task.payload["reservation_id"] == order.reservation_id
    assert [event.kind for event in await orders.events(session, order.id)] == ["DRAFTED", "CONFIRMED"]


async def test_confirm_keeps_the_quoted_price_and_refuses_what_changed(
    session: AsyncSession, tx17: None
) -> None:
    await orders.draft(session, BUYER, "aggregator", request("80"), order_rules=RULES, now=NOW)
    await offers.put_terms(session, NODE, REDUCE, offer_terms_in(price_per_kwh="9"))
    with pytest.raises(InvalidOrderRequest, match="send init again"):
        await orders.confirm(session, BUYER, request("70"), now=NOW)
    with pytest.raises(QuoteExpired):
        await orders.confirm(session, BUYER, request("80"), now=NOW + RULES.quote_ttl + timedelta(seconds=1))
    with pytest.raises(OrderNotFound):
        await orders.confirm(session, RIVAL, request("80"), now=NOW)

    order = await orders.confirm(session, BUYER, FlexRequest(ITEM, OFFER), now=NOW)
    assert order.price_per_kwh == Decimal("0.25")
    with pytest.raises(InvalidOrderRequest, match="already ACTIVE"):
        await orders.draft(session, BUYER, "aggregator", request("80"), order_rules=RULES, now=NOW)


async def test_capacity_taken_once_the_hold_expired_is_refused_at_confirm(
    session: AsyncSession, tx17: None
) -> None:
    await orders.draft(session, BUYER, "aggregator", request("120"), order_rules=RULES, now=NOW)
    expired = NOW + RULES.hold_ttl  # the quote (15 min) still stands; the hold (10 min) does not
    await orders.draft(session, RIVAL, "aggregator", request("100"), order_rules=RULES, now=expired)
    await orders.confirm(session, RIVAL, request("100"), now=expired)

    with pytest.raises(QuantityUnavailable, match="only 80 kW of REDUCE are still available"):
        await orders.confirm(session, BUYER, request("120"), now=expired + timedelta(minutes=1))


async def test_update_moves_the_reservation_and_reprices(session: AsyncSession, tx17: None) -> None:
    order = await confirmed(session, "80")
    later = Window(at(3), at(4))

    updated = await orders.update(
        session,
        BUYER.bap_id,
        order.id,
        OrderChange(kw=Decimal(100), window=later),
        order_rules=RULES,
        now=NOW,
    )
    await session.commit()

    assert (updated.kw, updated.window_start, updated.window_end) == (Decimal(100), later.start, later.end)
    assert updated.quote["total"] == "175.00"  # 100 kW × 1 h × 0.25 + 100 kW × 1.5
    assert await capacity.available_kw(session, NODE, REDUCE, WINDOW.start, WINDOW.end) == 180
    assert await capacity.available_kw(session, NODE, REDUCE, later.start, later.end) == 80
    tasks = await DispatchQueueRepository(session).for_order(order.id)
    assert [task.kind for task in tasks] == [DispatchKind.SCHEDULE, DispatchKind.RESCHEDULE]
    update_event = (await orders.events(session, order.id))[-1]
    assert update_event.data["before"]["kw"] == "80" and update_event.data["kw"] == "100"

    unchanged = await orders.update(
        session, BUYER.bap_id, order.id, OrderChange(kw=Decimal(100)), order_rules=RULES, now=NOW
    )
    assert unchanged.id == order.id
    assert len(await orders.events(session, order.id)) == 3


async def test_update_refusals(session: AsyncSession, tx17: None) -> None:
    order = await confirmed(session, "80")
    with pytest.raises(QuantityUnavailable):
        await orders.update(
            session, BUYER.bap_id, order.id, OrderChange(kw=Decimal(181)), order_rules=RULES, now=NOW
        )
    with pytest.raises(OrderNotFound):
        await orders.update(
            session, RIVAL.bap_id, order.id, OrderChange(kw=Decimal(90)), order_rules=RULES, now=NOW
        )
    with pytest.raises(NotUpdatable, match="changes closed 15 min before the event"):
        await orders.update(
            session, BUYER.bap_id, order.id, OrderChange(kw=Decimal(90)), order_rules=RULES, now=at(-0.2)
        )
    strict = OrderRules(update_cutoff=timedelta(hours=3))
    with pytest.raises(NotUpdatable, match="changes closed 3 h before the event"):
        await orders.update(
            session, BUYER.bap_id, order.id, OrderChange(kw=Decimal(90)), order_rules=strict, now=NOW
        )


async def test_cancel_releases_capacity_by_the_contracts_own_deadline(
    session: AsyncSession, tx17: None
) -> None:
    order = await confirmed(session, "80")
    # Later terms are stricter; the contract keeps the deadline it was made with (1 h before).
    await offers.put_terms(session, NODE, REDUCE, offer_terms_in(cancel_before_s=6 * 3600))

    with pytest.raises(NotCancellable, match="cancellation closed 1 h before the start"):
        await orders.cancel(session, BUYER.bap_id, order.id, CancelRequest(), now=at(-0.5))
    cancelled = await orders.cancel(
        session, BUYER.bap_id, order.id, CancelRequest(reason_id="2", description="grid normal"), now=NOW
    )
    again = await orders.cancel(session, BUYER.bap_id, order.id, CancelRequest(), now=NOW)
    await session.commit()

    assert again is cancelled
    assert (cancelled.status, cancelled.fulfillment_state) == (
        OrderStatus.CANCELLED,
        FulfillmentState.CANCELLED,
    )
    assert cancelled.cancellation == {
        "cancelled_by": "CONSUMER",
        "reason_id": "2",
        "description": "grid normal",
        "fee": "50",
        "currency": "INR",
    }
    assert await capacity.available_kw(session, NODE, REDUCE, WINDOW.start, WINDOW.end) == 180
    tasks = await DispatchQueueRepository(session).for_order(order.id)
    assert [task.kind for task in tasks] == [DispatchKind.SCHEDULE, DispatchKind.RELEASE]


async def test_a_cancelled_draft_gives_its_hold_back_and_commands_nothing(
    session: AsyncSession, tx17: None
) -> None:
    draft = await orders.draft(session, BUYER, "aggregator", request("80"), order_rules=RULES, now=NOW)
    assert await capacity.available_kw(session, NODE, REDUCE, WINDOW.start, WINDOW.end, now=NOW) == 100
    cancelled = await orders.cancel(session, BUYER.bap_id, draft.id, CancelRequest(), now=NOW)

    assert (cancelled.status, cancelled.cancellation["fee"]) == (OrderStatus.CANCELLED, "0")  # type: ignore[index]
    assert await capacity.available_kw(session, NODE, REDUCE, WINDOW.start, WINDOW.end, now=NOW) == 180
    assert await DispatchQueueRepository(session).for_order(draft.id) == []
    with pytest.raises(InvalidOrderRequest, match="was cancelled"):
        await orders.confirm(session, BUYER, request("80"), now=NOW)


async def test_the_state_machine_drives_status_and_refuses_jumps(session: AsyncSession, tx17: None) -> None:
    order = await confirmed(session, "80")
    with pytest.raises(InvalidTransition):
        await orders.advance(session, order.id, FulfillmentState.SETTLED, now=NOW)
    with pytest.raises(InvalidTransition, match="cancelled with `cancel`"):
        await orders.advance(session, order.id, FulfillmentState.CANCELLED, now=NOW)

    for state, status in [
        (FulfillmentState.DISPATCHED, OrderStatus.ACTIVE),
        (FulfillmentState.IN_PROGRESS, OrderStatus.ACTIVE),
        (FulfillmentState.PARTIAL, OrderStatus.COMPLETE),
        (FulfillmentState.SETTLED, OrderStatus.COMPLETE),
    ]:
        moved = await orders.advance(session, order.id, state, now=NOW, data={"delivered_kwh": "150"})
        assert (moved.fulfillment_state, moved.status) == (state, status)
    await session.commit()

    with pytest.raises(NotCancellable, match="is SETTLED"):
        await orders.cancel(session, BUYER.bap_id, order.id, CancelRequest(), now=NOW)
    last = (await orders.events(session, order.id))[-1]
    assert last.data == {"from": "PARTIAL", "to": "SETTLED", "delivered_kwh": "150"}

    draft = await orders.draft(session, RIVAL, "aggregator", request("10"), order_rules=RULES, now=NOW)
    with pytest.raises(InvalidTransition):
        await orders.advance(session, draft.id, FulfillmentState.DISPATCHED, now=NOW)


async def test_the_dispatch_queue_hands_out_pending_tasks_once(session: AsyncSession, tx17: None) -> None:
    first = await confirmed(session, "50")
    second = await confirmed(session, "60", RIVAL)
    queue = DispatchQueueRepository(session)

    pending = await queue.pending()
    assert [task.order_id for task in pending] == [first.id, second.id]
    await queue.mark_dispatched([pending[0].id], NOW)
    await session.commit()

    assert [task.order_id for task in await queue.pending()] == [second.id]


async def test_only_devices_that_can_contribute_are_committed(session: AsyncSession) -> None:
    await add_devices(session, battery_create(state_of_charge=None), battery_create(state_of_charge=0.5))
    await node_with_flex(session, NODE, 50)

    assert await orders.committed_devices(session, OFFER, WINDOW) == 2


async def test_orders_are_listed_newest_first_with_filters(session: AsyncSession, tx17: None) -> None:
    first = await confirmed(session, "50")
    later = NOW + timedelta(minutes=1)
    draft = await orders.draft(session, RIVAL, "aggregator", request("10"), order_rules=RULES, now=later)
    await session.commit()

    assert [order.id for order in await orders.list_orders(session)] == [draft.id, first.id]
    assert [order.id for order in await orders.list_orders(session, status=OrderStatus.DRAFT)] == [draft.id]
    assert await orders.list_orders(session, grid_node="feeder:F-1") == []
    assert [o.id for o in await orders.list_orders(session, starts_after=at(0), starts_before=at(1))] == [
        draft.id,
        first.id,
    ]
    assert (await OrderRepository(session).in_transaction(RIVAL.bap_id, RIVAL.transaction_id)) is draft
