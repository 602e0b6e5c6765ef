"""init holds the quoted kW for the buyer's confirm (docs/bpp.md, "Holds"), on SQLite and PostgreSQL: other
buyers cannot take them, the holder's confirm commits them, another init refreshes them, cancel releases
them, and they stop counting once they expire. The clock is injected (`now`), so nothing sleeps."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bpp.capacity import service as capacity
from bpp.capacity.models import Reservation, ReservationStatus
from bpp.capacity.repository import ReservationRepository
from bpp.fleet.models import FlexDirection
from bpp.offers import service as offers
from bpp.orders import service as orders
from bpp.orders.errors import QuantityUnavailable, TermsNotMet
from bpp.orders.models import Order
from bpp.orders.requests import Buyer, FlexRequest, OfferRef, Window
from bpp.orders.service import OrderRules
from bpp.orders.states import OrderStatus
from participant.db import make_engine, make_session_factory
from tests.bpp.factories import NODE, at, node_with_flex, offer_terms_in

REDUCE = FlexDirection.REDUCE
OFFER = OfferRef(NODE, REDUCE)
NOW = at(-2)
WINDOW = Window(at(0), at(2))
RULES = OrderRules()  # quotes stand 15 min, holds 10 min
EXPIRED = NOW + RULES.hold_ttl  # the moment a hold placed at NOW stops counting
BUYER = Buyer("utility.bap", "http://utility.test", "tx-1")
RIVAL = Buyer("rival.bap", "http://rival.test", "tx-9")
THIRD = Buyer("third.bap", "http://third.test", "tx-3")


@pytest.fixture
async def tx17(session: AsyncSession) -> None:
    """TX-17: 120 + 80 kW of loads, 10 % headroom: 180 kW of REDUCE to sell."""
    await node_with_flex(session, NODE, 120, 80)
    await offers.put_terms(session, NODE, REDUCE, offer_terms_in())
    await session.commit()


def request(kw: str, offer: OfferRef = OFFER) -> FlexRequest:
    return FlexRequest(f"{offer.grid_node}:{offer.direction}", offer, Decimal(kw), WINDOW)


async def init(
    session: AsyncSession,
    buyer: Buyer,
    kw: str,
    *,
    now: datetime = NOW,
    offer: OfferRef = OFFER,
    order_rules: OrderRules = RULES,
) -> Order:
    return await orders.draft(
        session, buyer, "aggregator", request(kw, offer), order_rules=order_rules, now=now
    )


async def confirm(session: AsyncSession, buyer: Buyer, kw: str, *, now: datetime) -> Order:
    return await orders.confirm(session, buyer, request(kw), now=now)


async def free(session: AsyncSession, *, now: datetime, offer: OfferRef = OFFER) -> Decimal:
    return await capacity.available_kw(
        session, offer.grid_node, offer.direction, WINDOW.start, WINDOW.end, now=now
    )


async def reservation_of(session: AsyncSession, order: Order) -> Reservation:
    assert order.reservation_id is not None
    reservation = await ReservationRepository(session).get(order.reservation_id)
    assert reservation is not None
    return reservation


async def test_init_holds_the_quoted_kw_until_the_hold_expires(session: AsyncSession, tx17: None) -> None:
    order = await init(session, BUYER, "120")
    await session.commit()

    hold = await reservation_of(session, order)
    assert (hold.status, hold.kw, hold.order_id, hold.holder) == (
        ReservationStatus.HELD,
        Decimal(120),
        order.id,
        BUYER.bap_id,
    )
    assert hold.expires_at == EXPIRED
    (drafted,) = await orders.events(session, order.id)
    assert drafted.data["held_until"] == EXPIRED.isoformat()

    assert await free(session, now=NOW) == 60
    assert await free(session, now=EXPIRED - timedelta(seconds=1)) == 60
    assert await free(session, now=EXPIRED) == 180, "an expired hold frees its kW, with no sweeper"
    (held,) = await capacity.node_summary(session, at(1), now=NOW)
    assert (held.committed_kw, held.held_kw, held.available_kw) == tuple(map(Decimal, (0, 120, 60)))
    (expired,) = await capacity.node_summary(session, at(1), now=EXPIRED)
    assert (expired.committed_kw, expired.held_kw, expired.available_kw) == tuple(map(Decimal, (0, 0, 180)))


async def test_a_hold_keeps_other_buyers_init_and_confirm_off_its_kw(
    session: AsyncSession, tx17: None
) -> None:
    # The rival's draft outlives its own hold: its quote stands 15 min, its hold only 10.
    await init(session, RIVAL, "100", now=NOW)
    await init(session, BUYER, "120", now=EXPIRED)
    later = EXPIRED + timedelta(minutes=1)

    with pytest.raises(QuantityUnavailable, match="only 60 kW of REDUCE are still available"):
        await confirm(session, RIVAL, "100", now=later)
    with pytest.raises(QuantityUnavailable, match="only 60 kW"):
        await init(session, THIRD, "100", now=later)

    await init(session, RIVAL, "60", now=later)
    await confirm(session, RIVAL, "60", now=later)
    await confirm(session, BUYER, "120", now=later)
    await session.commit()
    assert await free(session, now=later) == 0


async def test_the_holders_confirm_turns_its_hold_into_the_commitment(
    session: AsyncSession, tx17: None
) -> None:
    draft = await init(session, BUYER, "180")
    hold_id = draft.reservation_id
    order = await confirm(session, BUYER, "180", now=NOW + timedelta(minutes=9))
    await session.commit()

    assert order.status is OrderStatus.ACTIVE and order.reservation_id == hold_id
    committed = await reservation_of(session, order)
    assert (committed.status, committed.expires_at) == (ReservationStatus.COMMITTED, None)
    assert await free(session, now=EXPIRED + timedelta(hours=1)) == 0, "a commitment does not expire"


async def test_a_confirm_after_the_hold_expired_commits_what_is_still_free(
    session: AsyncSession, tx17: None
) -> None:
    await init(session, BUYER, "180")
    order = await confirm(session, BUYER, "180", now=EXPIRED + timedelta(minutes=4))

    assert order.status is OrderStatus.ACTIVE
    assert (await reservation_of(session, order)).status is ReservationStatus.COMMITTED


async def test_init_again_refreshes_the_hold_and_gives_back_what_it_no_longer_asks(
    session: AsyncSession, tx17: None
) -> None:
    first_hold = (await init(session, BUYER, "150", now=NOW)).reservation_id
    assert await free(session, now=NOW) == 30
    refreshed = NOW + timedelta(minutes=8)
    again = await init(session, BUYER, "100", now=refreshed)

    assert again.reservation_id == first_hold
    assert (await reservation_of(session, again)).expires_at == refreshed + RULES.hold_ttl
    assert await free(session, now=EXPIRED + timedelta(minutes=2)) == 80, "held past the first expiry"

    await init(session, RIVAL, "80", now=EXPIRED + timedelta(minutes=2))
    with pytest.raises(QuantityUnavailable, match="only 100 kW"):  # its own 100 kW count as free
        await init(session, BUYER, "120", now=EXPIRED + timedelta(minutes=3))
    kept = await reservation_of(session, again)
    assert (again.kw, kept.kw, kept.expires_at) == (Decimal(100), Decimal(100), refreshed + RULES.hold_ttl)


async def test_init_again_for_another_item_moves_the_hold(session: AsyncSession, tx17: None) -> None:
    feeder = OfferRef("feeder:F-3", REDUCE)
    await node_with_flex(session, feeder.grid_node, 50)
    await offers.put_terms(session, feeder.grid_node, REDUCE, offer_terms_in())

    first_hold = (await init(session, BUYER, "100")).reservation_id
    moved = await init(session, BUYER, "40", offer=feeder)

    assert moved.reservation_id != first_hold and moved.grid_node == feeder.grid_node
    released = await ReservationRepository(session).get(str(first_hold))
    assert released is not None and released.status is ReservationStatus.RELEASED
    assert await free(session, now=NOW) == 180
    assert await free(session, now=NOW, offer=feeder) == 5  # 50 × 0.9 − 40


async def test_select_counts_other_buyers_holds_but_not_the_buyers_own(
    session: AsyncSession, tx17: None
) -> None:
    await init(session, BUYER, "180")

    assert (await orders.quote(session, request("180"), now=NOW, buyer=BUYER)).quote.kw == 180
    with pytest.raises(QuantityUnavailable, match="only 0 kW"):
        await orders.quote(session, request("10"), now=NOW, buyer=RIVAL)
    with pytest.raises(QuantityUnavailable, match="only 0 kW"):
        await orders.quote(session, request("10"), now=NOW)
    assert (await orders.quote(session, request("10"), now=EXPIRED, buyer=RIVAL)).quote.kw == 10


async def test_a_live_hold_is_an_event_of_its_day_for_every_other_order(
    session: AsyncSession, tx17: None
) -> None:
    await offers.put_terms(session, NODE, REDUCE, offer_terms_in(max_events_per_day=1))
    await init(session, BUYER, "50")

    with pytest.raises(TermsNotMet, match="already has 1 event"):
        await init(session, RIVAL, "50")
    await init(session, BUYER, "60", now=NOW + timedelta(minutes=1))  # its own hold is not another event
    await init(session, RIVAL, "50", now=NOW + timedelta(minutes=11))  # the buyer's hold has expired
    with pytest.raises(TermsNotMet, match="already has 1 event"):
        await confirm(session, BUYER, "60", now=NOW + timedelta(minutes=12))
    await confirm(session, RIVAL, "50", now=NOW + timedelta(minutes=12))


async def test_a_hold_never_outlives_its_quote(session: AsyncSession, tx17: None) -> None:
    short = OrderRules(quote_ttl=timedelta(minutes=5), hold_ttl=timedelta(minutes=10))
    assert short.held_for == timedelta(minutes=5)

    order = await init(session, BUYER, "80", order_rules=short)
    assert (await reservation_of(session, order)).expires_at == order.quote_expires_at == NOW + short.held_for


# -- two replicas ----------------------------------------------------------------------------------------

ROUNDS = 3


async def _init_at_once(
    factory: async_sessionmaker[AsyncSession], barrier: asyncio.Barrier, buyer: Buyer, offer: OfferRef
) -> tuple[Decimal, Order | QuantityUnavailable]:
    async with factory() as session:
        seen = (await orders.quote(session, request("100", offer), now=NOW)).quote.kw
        await barrier.wait()
        try:
            order = await init(session, buyer, "100", offer=offer)
            await session.commit()
            return seen, order
        except QuantityUnavailable as exc:
            await session.rollback()
            return seen, exc


async def test_two_inits_racing_for_the_last_100_kw_exactly_one_holds(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Each init runs on its own engine (a replica); both have priced the 100 kW before either holds."""
    engines = [make_engine(database_url), make_engine(database_url)]
    try:
        factories = [make_session_factory(engine) for engine in engines]
        for round_ in range(ROUNDS):
            offer = OfferRef(f"transformer:RACE-{round_}", REDUCE)
            async with session_factory() as session:
                await node_with_flex(session, offer.grid_node, 100)
                await offers.put_terms(
                    session, offer.grid_node, REDUCE, offer_terms_in(reliability_headroom=0)
                )
                await session.commit()

            barrier = asyncio.Barrier(2)
            results = await asyncio.wait_for(
                asyncio.gather(
                    _init_at_once(factories[0], barrier, BUYER, offer),
                    _init_at_once(factories[1], barrier, RIVAL, offer),
                ),
                timeout=60,
            )

            assert [seen for seen, _ in results] == [Decimal(100), Decimal(100)], "both priced it first"
            held = [outcome for _, outcome in results if isinstance(outcome, Order)]
            refused = [outcome for _, outcome in results if isinstance(outcome, QuantityUnavailable)]
            assert len(held) == 1 and len(refused) == 1, f"round {round_}: {results}"
            assert "only 0 kW" in refused[0].message
            async with session_factory() as session:
                assert await free(session, now=NOW, offer=offer) == 0
                summary = {
                    (s.grid_node, s.direction): s
                    for s in await capacity.node_summary(session, at(1), now=NOW)
                }
                assert summary[(offer.grid_node, REDUCE)].held_kw == Decimal(100)
    finally:
        for engine in engines:
            await engine.dispose()
