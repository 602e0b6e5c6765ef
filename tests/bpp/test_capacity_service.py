"""Availability, reservations and the node summary on the migrated databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.capacity import service as capacity
from bpp.capacity.errors import CapacityUnavailable, InvalidReservation, ReservationNotFound
from bpp.capacity.models import Reservation, ReservationStatus
from bpp.capacity.service import NodeCapacity
from bpp.fleet import service as fleet
from bpp.fleet.models import DerKind, DerStatus, FlexDirection
from bpp.fleet.schemas import DerUpdate
from bpp.offers import service as offers
from tests.bpp.factories import (
    NODE,
    add_devices,
    at,
    battery_create,
    der_create,
    node_with_flex,
    offer_terms_in,
)

REDUCE, INCREASE = FlexDirection.REDUCE, FlexDirection.INCREASE
UTILITY = "utility.example.com"


async def _no_headroom(
    session: AsyncSession, grid_node: str = NODE, direction: FlexDirection = REDUCE
) -> None:
    await offers.put_terms(session, grid_node, direction, offer_terms_in(reliability_headroom=0))
    await session.commit()


async def _reserve(
    session: AsyncSession,
    kw: int | str,
    start: datetime,
    end: datetime,
    *,
    status: ReservationStatus = ReservationStatus.COMMITTED,
    order_id: str | None = None,
    grid_node: str = NODE,
) -> Reservation:
    reservation = await capacity.reserve(
        session,
        grid_node=grid_node,
        direction=REDUCE,
        kw=Decimal(kw),
        window_start=start,
        window_end=end,
        holder=UTILITY,
        order_id=order_id,
        status=status,
    )
    await session.commit()
    return reservation


async def test_back_to_back_reservations_leave_the_peak_free(session: AsyncSession) -> None:
    """Two 50 kW reservations 14–15 and 15–16 leave 100 kW free for 14–16 on a 150 kW node."""
    await node_with_flex(session, NODE, 100, 50)
    await _no_headroom(session)
    await _reserve(session, 50, at(0), at(1))
    await _reserve(session, 50, at(1), at(2))

    assert await capacity.available_kw(session, NODE, REDUCE, at(0), at(2)) == Decimal(100)
    await _reserve(session, 100, at(0), at(2))
    assert await capacity.available_kw(session, NODE, REDUCE, at(0), at(2)) == 0
    assert await capacity.available_kw(session, NODE, REDUCE, at(2), at(3)) == Decimal(150)


async def test_overlapping_reservations_add_up_where_they_meet(session: AsyncSession) -> None:
    await node_with_flex(session, NODE, 150)
    await _no_headroom(session)
    await _reserve(session, 60, at(0), at(1.5))
    await _reserve(session, 40, at(1), at(2), status=ReservationStatus.HELD)

    assert await capacity.available_kw(session, NODE, REDUCE, at(0), at(2)) == Decimal(50)
    assert await capacity.available_kw(session, NODE, REDUCE, at(1.5), at(2)) == Decimal(110)
    with pytest.raises(CapacityUnavailable) as caught:
        await _reserve(session, "50.001", at(0.5), at(1.25))
    assert caught.value.available_kw == Decimal(50) and caught.value.requested_kw == Decimal("50.001")
    assert "only 50 kW available on transformer:TX-17 REDUCE" in str(caught.value)


async def test_default_headroom_applies_without_terms_and_terms_override_it(session: AsyncSession) -> None:
    await node_with_flex(session, NODE, 100, 50)
    assert await capacity.available_kw(session, NODE, REDUCE, at(0), at(1)) == Decimal(135)
    await offers.put_terms(session, NODE, REDUCE, offer_terms_in(reliability_headroom="0.2"))
    assert await capacity.available_kw(session, NODE, REDUCE, at(0), at(1)) == Decimal(120)


async def test_only_online_devices_of_the_right_kind_on_the_node_count(session: AsyncSession) -> None:
    await add_devices(
        session,
        der_create(kind=DerKind.FLEXIBLE_LOAD, flex_kw=Decimal(40)),
        der_create(kind=DerKind.EV_CHARGER, rated_kw=Decimal(11), flex_kw=Decimal(11)),
        der_create(kind=DerKind.SOLAR_INVERTER, flex_kw=Decimal(30)),
        der_create(flex_kw=Decimal(25), status=DerStatus.OFFLINE),
        der_create(flex_kw=Decimal(25), status=DerStatus.MAINTENANCE),
        der_create(flex_kw=Decimal(25), grid_node="feeder:F-3"),
        battery_create(state_of_charge=0.25),  # 5 kWh stored, 15 kWh of room
    )
    retired = await add_devices(session, der_create(flex_kw=Decimal(25)))
    await fleet.retire(session, retired[0].device_id)

    assert await capacity.controllable_kw(session, NODE, REDUCE, at(0), at(1)) == Decimal(56)
    assert await capacity.controllable_kw(session, NODE, REDUCE, at(0), at(2)) == Decimal("53.5")
    assert await capacity.controllable_kw(session, NODE, INCREASE, at(0), at(1)) == Decimal(40)
    assert await capacity.controllable_kw(session, NODE, REDUCE, at(0)) == Decimal(61), "an instant"
    assert await capacity.controllable_kw(session, "feeder:F-99", REDUCE, at(0), at(1)) == 0


async def test_a_device_going_offline_shrinks_availability_but_not_reservations(
    session: AsyncSession,
) -> None:
    devices = await node_with_flex(session, NODE, 100, 50)
    await _no_headroom(session)
    held = await _reserve(session, 120, at(0), at(1))
    await fleet.update(session, devices[0].device_id, DerUpdate(status=DerStatus.OFFLINE))
    await session.commit()

    assert await capacity.available_kw(session, NODE, REDUCE, at(0), at(1)) == 0
    resized = await capacity.resize(session, held.id, kw=Decimal(90), window_end=at(0.5))
    assert resized.kw == Decimal(90), "shrinking is always allowed"
    with pytest.raises(CapacityUnavailable):
        await capacity.resize(session, held.id, kw=Decimal(91))


async def test_resize_is_checked_against_everything_but_itself(session: AsyncSession) -> None:
    await node_with_flex(session, NODE, 150)
    await _no_headroom(session)
    await _reserve(session, 50, at(1), at(2))
    mine = await _reserve(session, 80, at(0), at(1))

    grown = await capacity.resize(session, mine.id, kw=Decimal(150))
    assert grown.kw == Decimal(150)
    with pytest.raises(CapacityUnavailable) as caught:
        await capacity.resize(session, mine.id, window_end=at(1.5))
    assert caught.value.available_kw == Decimal(100)
    moved = await capacity.resize(session, mine.id, kw=Decimal(100), window_start=at(0.5), window_end=at(1.5))
    await session.commit()
    assert (moved.kw, moved.window_start, moved.window_end) == (Decimal(100), at(0.5), at(1.5))
    with pytest.raises(InvalidReservation, match="ends before it starts"):
        await capacity.resize(session, mine.id, window_start=at(2))


async def test_release_frees_the_kw_and_is_idempotent(session: AsyncSession) -> None:
    await node_with_flex(session, NODE, 150)
    await _no_headroom(session)
    await _reserve(session, 100, at(0), at(1), order_id="order-1")
    await _reserve(session, 30, at(0.5), at(1), order_id="order-1")
    other = await _reserve(session, 20, at(0), at(1), order_id="order-2")

    released = await capacity.release(session, order_id="order-1", now=at(-1))
    await session.commit()
    assert [r.status for r in released] == [ReservationStatus.RELEASED] * 2
    assert all(r.released_at == at(-1) for r in released)
    assert await capacity.available_kw(session, NODE, REDUCE, at(0), at(1)) == Decimal(130)

    again = await capacity.release(session, order_id="order-1")
    assert [r.released_at for r in again] == [at(-1)] * 2
    await capacity.release(session, reservation_id=other.id)
    assert await capacity.available_kw(session, NODE, REDUCE, at(0), at(1)) == Decimal(150)
    with pytest.raises(InvalidReservation, match="released"):
        await capacity.resize(session, other.id, kw=Decimal(1))
    with pytest.raises(ReservationNotFound, match="order-404"):
        await capacity.release(session, order_id="order-404")
    with pytest.raises(InvalidReservation, match="exactly one"):
        await capacity.release(session)


async def test_a_hold_counts_and_is_confirmed_with_its_own_kw_counted_as_free(
    session: AsyncSession,
) -> None:
    await node_with_flex(session, NODE, 100)
    await _no_headroom(session)
    hold = await _reserve(session, 100, at(0), at(1), status=ReservationStatus.HELD)
    with pytest.raises(CapacityUnavailable):
        await _reserve(session, 1, at(0), at(1))

    confirmed = await capacity.confirm_hold(session, hold.id, order_id="order-7")
    assert (confirmed.id, confirmed.status, confirmed.order_id) == (
        hold.id,
        ReservationStatus.COMMITTED,
        "order-7",
    )
    assert await capacity.confirm_hold(session, hold.id) is confirmed, "committing twice is once"
    await capacity.release(session, reservation_id=hold.id)
    with pytest.raises(InvalidReservation, match="released"):
        await capacity.confirm_hold(session, hold.id)


async def _hold(
    session: AsyncSession, kw: int, expires_at: datetime, *, now: datetime, replacing: str | None = None
) -> Reservation:
    return await capacity.reserve(
        session,
        grid_node=NODE,
        direction=REDUCE,
        kw=Decimal(kw),
        window_start=at(0),
        window_end=at(1),
        holder=UTILITY,
        status=ReservationStatus.HELD,
        expires_at=expires_at,
        replacing=replacing,
        now=now,
    )


async def test_a_hold_stops_counting_when_it_expires(session: AsyncSession) -> None:
    await node_with_flex(session, NODE, 100)
    await _no_headroom(session)
    hold = await _hold(session, 70, at(-1), now=at(-2))
    await _reserve(
        session, 10, at(0), at(1), status=ReservationStatus.HELD
    )  # no expiry: counts until released

    for now, free, held, events in [(at(-1.5), 20, 80, 2), (at(-1), 90, 10, 1)]:
        assert await capacity.available_kw(session, NODE, REDUCE, at(0), at(1), now=now) == free
        (summary,) = await capacity.node_summary(session, at(0.5), now=now)
        assert (summary.held_kw, summary.available_kw) == (Decimal(held), Decimal(free))
        assert await capacity.events_on_day(session, NODE, REDUCE, at(0).date(), now=now) == events
    assert (
        await capacity.events_on_day(
            session, NODE, REDUCE, at(0).date(), now=at(-1.5), exclude_reservation_id=hold.id
        )
        == 1
    )

    taken = await capacity.reserve(
        session,
        grid_node=NODE,
        direction=REDUCE,
        kw=Decimal(90),
        window_start=at(0),
        window_end=at(1),
        holder="rival.example.com",
        now=at(-1),
    )
    with pytest.raises(CapacityUnavailable) as caught:
        await capacity.confirm_hold(session, hold.id, now=at(-0.5))
    assert caught.value.available_kw == 0, "an expired hold commits only what is still free"
    await capacity.release(session, reservation_id=taken.id)
    assert (await capacity.confirm_hold(session, hold.id, now=at(-0.5))).status is ReservationStatus.COMMITTED


async def test_a_hold_is_replaced_in_place_with_its_own_kw_counted_as_free(session: AsyncSession) -> None:
    await node_with_flex(session, NODE, 100)
    await _no_headroom(session)
    hold = await _hold(session, 100, at(-1), now=at(-2))

    refreshed = await _hold(session, 60, at(-0.5), now=at(-1.5), replacing=hold.id)
    assert (refreshed.id, refreshed.kw, refreshed.expires_at) == (hold.id, Decimal(60), at(-0.5))
    assert await capacity.available_kw(session, NODE, REDUCE, at(0), at(1), now=at(-1.5)) == 40
    with pytest.raises(CapacityUnavailable):
        await _hold(session, 101, at(-0.5), now=at(-1.5), replacing=hold.id)

    committed = await _reserve(session, 30, at(0), at(1))
    with pytest.raises(InvalidReservation, match="COMMITTED, no longer a hold"):
        await _hold(session, 10, at(-0.5), now=at(-1.5), replacing=committed.id)
    elsewhere = await _hold(session, 1, at(-0.5), now=at(-1.5))
    elsewhere.grid_node = "feeder:F-3"
    await session.flush()
    with pytest.raises(InvalidReservation, match="holds feeder:F-3 REDUCE, not transformer:TX-17 REDUCE"):
        await _hold(session, 10, at(-0.5), now=at(-1.5), replacing=elsewhere.id)


@pytest.mark.parametrize(
    ("status", "expires_at", "words"),
    [
        (ReservationStatus.COMMITTED, at(1), "only a HELD reservation expires"),
        (ReservationStatus.HELD, at(1).replace(tzinfo=None), "timezone-aware"),
        (ReservationStatus.HELD, at(-2), "must expire after it is made"),
    ],
)
async def test_impossible_expiries_are_refused(
    session: AsyncSession, status: ReservationStatus, expires_at: datetime, words: str
) -> None:
    with pytest.raises(InvalidReservation, match=words):
        await capacity.reserve(
            session,
            grid_node=NODE,
            direction=REDUCE,
            kw=Decimal(5),
            window_start=at(0),
            window_end=at(1),
            holder=UTILITY,
            status=status,
            expires_at=expires_at,
            now=at(-2),
        )


@pytest.mark.parametrize(
    ("kw", "start", "end", "holder", "status", "words"),
    [
        ("0", at(0), at(1), UTILITY, ReservationStatus.COMMITTED, "not a quantity"),
        ("NaN", at(0), at(1), UTILITY, ReservationStatus.COMMITTED, "not a quantity"),
        ("5", at(1), at(1), UTILITY, ReservationStatus.COMMITTED, "ends before it starts"),
        ("5", at(0).replace(tzinfo=None), at(1), UTILITY, ReservationStatus.COMMITTED, "timezone-aware"),
        ("5", at(0), at(1), "", ReservationStatus.COMMITTED, "holder and order_id are 1 to 255"),
        ("5", at(0), at(1), "x" * 256, ReservationStatus.COMMITTED, "holder and order_id are 1 to 255"),
        ("5", at(0), at(1), UTILITY, ReservationStatus.RELEASED, "not RELEASED"),
    ],
)
async def test_impossible_reservations_are_refused(
    session: AsyncSession,
    kw: str,
    start: datetime,
    end: datetime,
    holder: str,
    status: ReservationStatus,
    words: str,
) -> None:
    with pytest.raises(InvalidReservation, match=words):
        await capacity.reserve(
            session,
            grid_node=NODE,
            direction=REDUCE,
            kw=Decimal(kw),
            window_start=start,
            window_end=end,
            holder=holder,
            status=status,
        )


async def test_requested_kw_is_rounded_up_to_the_watt(session: AsyncSession) -> None:
    await node_with_flex(session, NODE, 100)
    reservation = await _reserve(session, "10.0001", at(0), at(1))
    assert reservation.kw == Decimal("10.001")


async def test_events_on_day_counts_live_reservations_starting_that_utc_day(session: AsyncSession) -> None:
    await node_with_flex(session, NODE, 500)
    await _reserve(session, 10, at(0), at(1))
    await _reserve(session, 10, at(2), at(3), status=ReservationStatus.HELD)
    released = await _reserve(session, 10, at(4), at(5))
    await capacity.release(session, reservation_id=released.id)
    await _reserve(session, 10, at(9.5), at(10.5))  # 23:30 UTC
    await _reserve(session, 10, at(10), at(11))  # 00:00 UTC the next day

    day = at(0).date()
    assert await capacity.events_on_day(session, NODE, REDUCE, day) == 3
    assert await capacity.events_on_day(session, NODE, REDUCE, day + timedelta(days=1)) == 1
    assert await capacity.events_on_day(session, NODE, INCREASE, day) == 0


async def test_node_summary_shows_each_node_and_direction_now(session: AsyncSession) -> None:
    await add_devices(
        session,
        der_create(flex_kw=Decimal(100)),
        der_create(kind=DerKind.SOLAR_INVERTER, flex_kw=Decimal(40), grid_node="feeder:F-3"),
    )
    await _no_headroom(session)
    await offers.put_terms(session, "feeder:F-9", INCREASE, offer_terms_in())
    await _reserve(session, 30, at(-1), at(1))
    await _reserve(session, 20, at(0), at(1), status=ReservationStatus.HELD)
    await _reserve(session, 45, at(1), at(2))

    summary = await capacity.node_summary(session, at=at(0.5))
    assert summary == [
        NodeCapacity("feeder:F-3", INCREASE, Decimal(40), Decimal(0), Decimal(0), Decimal(36)),
        NodeCapacity("feeder:F-9", INCREASE, Decimal(0), Decimal(0), Decimal(0), Decimal(0)),
        NodeCapacity(NODE, REDUCE, Decimal(100), Decimal(30), Decimal(20), Decimal(50)),
    ]
