"""Property: no run of reserve / resize / release lets the reserved peak exceed what a node may sell.

A model of the node, on a 15-minute grid, predicts each outcome independently of the sweep under test:
a reservation must succeed exactly when it fits, and the stored reservations never peak above
controllable × (1 − headroom).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.capacity import service as capacity
from bpp.capacity.errors import CapacityUnavailable
from bpp.capacity.models import ReservationStatus
from bpp.fleet.models import FlexDirection
from bpp.offers import service as offers
from participant.db import make_engine, make_session_factory
from tests.bpp.factories import T0, node_with_flex, offer_terms_in

REDUCE = FlexDirection.REDUCE
SLOT = timedelta(minutes=15)
SLOTS = 12
CONTROLLABLE = Decimal(150)  # flexible loads of 100 and 50 kW


@dataclass(frozen=True)
class Reserve:
    start: int
    length: int
    kw: Decimal
    status: ReservationStatus


@dataclass(frozen=True)
class Release:
    pick: int


@dataclass(frozen=True)
class Resize:
    """Relative to the picked reservation, so that the new window usually overlaps the old one."""

    pick: int
    shift: int
    stretch: int
    kw_change: Decimal


kilowatts = st.one_of(
    st.integers(1, 140).map(Decimal),
    st.decimals(min_value=Decimal("0.001"), max_value=Decimal(140), places=3),
)
operations = st.lists(
    st.one_of(
        st.builds(
            Reserve,
            start=st.integers(0, SLOTS - 1),
            length=st.integers(1, 4),
            kw=kilowatts,
            status=st.sampled_from([ReservationStatus.HELD, ReservationStatus.COMMITTED]),
        ),
        st.builds(Release, pick=st.integers(0, 50)),
        st.builds(
            Resize,
            pick=st.integers(0, 50),
            shift=st.integers(-1, 1),
            stretch=st.integers(-1, 2),
            kw_change=kilowatts.map(lambda kw: kw - 70),
        ),
    ),
    min_size=1,
    max_size=14,
)


def _slot_loads(live: dict[str, tuple[int, int, Decimal]]) -> list[Decimal]:
    loads = [Decimal(0)] * (SLOTS + 8)
    for start, end, kw in live.values():
        for slot in range(start, end):
            loads[slot] += kw
    return loads


async def _resize(
    session: AsyncSession, live: dict[str, tuple[int, int, Decimal]], step: Resize, sellable: Decimal
) -> None:
    chosen = sorted(live)[step.pick % len(live)]
    old_start, old_end, old_kw = live[chosen]
    start = min(max(0, old_start + step.shift), SLOTS - 1)
    end = max(start + 1, old_end + step.shift + step.stretch)
    kw = max(Decimal("0.001"), old_kw + step.kw_change)
    others = {key: value for key, value in live.items() if key != chosen}
    free = sellable - max(_slot_loads(others)[start:end])
    try:
        await capacity.resize(
            session, chosen, kw=kw, window_start=T0 + start * SLOT, window_end=T0 + end * SLOT
        )
        await session.commit()
    except CapacityUnavailable as exc:
        assert kw > free, f"resizing to {kw} kW fits in {free} kW but was refused"
        assert exc.available_kw == max(Decimal(0), free)
    else:
        assert kw <= free, f"resized to {kw} kW with only {free} kW free"
        live[chosen] = (start, end, kw)


async def _scenario(database_url: str, steps: list[Reserve | Release | Resize], headroom: Decimal) -> None:
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    grid_node = f"transformer:P-{uuid.uuid4().hex[:10]}"
    sellable = CONTROLLABLE * (1 - headroom)
    live: dict[str, tuple[int, int, Decimal]] = {}
    try:
        async with factory() as session:
            await node_with_flex(session, grid_node, 100, 50)
            await offers.put_terms(session, grid_node, REDUCE, offer_terms_in(reliability_headroom=headroom))
            await session.commit()
        for step in steps:
            async with factory() as session:
                if isinstance(step, Resize):
                    if live:
                        await _resize(session, live, step, sellable)
                    continue
                if isinstance(step, Release):
                    if live:
                        chosen = sorted(live)[step.pick % len(live)]
                        await capacity.release(session, reservation_id=chosen)
                        await session.commit()
                        del live[chosen]
                    continue
                end = step.start + step.length
                free = sellable - max(_slot_loads(live)[step.start : end])
                try:
                    reservation = await capacity.reserve(
                        session,
                        grid_node=grid_node,
                        direction=REDUCE,
                        kw=step.kw,
                        window_start=T0 + step.start * SLOT,
                        window_end=T0 + end * SLOT,
                        holder="utility",
                        status=step.status,
                    )
                    await session.commit()
                except CapacityUnavailable as exc:
                    assert step.kw > free, f"{step.kw} kW fits in {free} kW but was refused"
                    assert exc.available_kw == max(Decimal(0), free)
                else:
                    assert step.kw <= free, f"{step.kw} kW accepted with only {free} kW free"
                    live[reservation.id] = (step.start, end, step.kw)
            async with factory() as session:
                available = await capacity.available_kw(
                    session, grid_node, REDUCE, T0, T0 + (SLOTS + 8) * SLOT
                )
                assert available == sellable - max(_slot_loads(live)), "availability disagrees with the model"
                assert max(_slot_loads(live)) <= sellable
    finally:
        await engine.dispose()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations, headroom=st.sampled_from([Decimal(0), Decimal("0.1"), Decimal("0.25")]))
def test_reserve_and_release_never_oversell(
    database_url: str, steps: list[Reserve | Release | Resize], headroom: Decimal
) -> None:
    asyncio.run(_scenario(database_url, steps, headroom))
