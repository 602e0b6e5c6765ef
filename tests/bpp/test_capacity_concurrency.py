"""Two replicas racing for the last kW of a grid node: exactly one wins, on SQLite and on PostgreSQL.

Each contender has its own engine (its own connection pool, as a separate replica would), reads the
availability, then waits at a barrier so that both have read before either writes.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bpp.capacity import service as capacity
from bpp.capacity.errors import CapacityUnavailable
from bpp.capacity.models import Reservation
from bpp.fleet.models import FlexDirection
from participant.db import make_engine, make_session_factory
from tests.bpp.factories import at, node_with_flex

REDUCE = FlexDirection.REDUCE
ROUNDS = 5


async def _contend(
    factory: async_sessionmaker[AsyncSession], barrier: asyncio.Barrier, grid_node: str, holder: str
) -> tuple[Decimal, Reservation | CapacityUnavailable]:
    async with factory() as session:
        seen = await capacity.available_kw(session, grid_node, REDUCE, at(0), at(1))
        await barrier.wait()
        try:
            reservation = await capacity.reserve(
                session,
                grid_node=grid_node,
                direction=REDUCE,
                kw=Decimal(100),
                window_start=at(0),
                window_end=at(1),
                holder=holder,
            )
            await session.commit()
            return seen, reservation
        except CapacityUnavailable as exc:
            await session.rollback()
            return seen, exc


async def test_two_replicas_racing_for_the_last_100_kw(
    database_url: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    engines = [make_engine(database_url), make_engine(database_url)]
    try:
        factories = [make_session_factory(engine) for engine in engines]
        for round_ in range(ROUNDS):
            grid_node = f"transformer:RACE-{round_}"
            async with session_factory() as session:
                # 200 kW controllable, 10 % headroom → 180 sellable; 80 kW already committed → 100 left.
                await node_with_flex(session, grid_node, 120, 80)
                await capacity.reserve(
                    session,
                    grid_node=grid_node,
                    direction=REDUCE,
                    kw=Decimal(80),
                    window_start=at(0.5),
                    window_end=at(2),
                    holder="utility-0",
                )
                await session.commit()

            barrier = asyncio.Barrier(2)
            results = await asyncio.wait_for(
                asyncio.gather(
                    _contend(factories[0], barrier, grid_node, "utility-a"),
                    _contend(factories[1], barrier, grid_node, "utility-b"),
                ),
                timeout=60,
            )

            assert [seen for seen, _ in results] == [Decimal(100), Decimal(100)], "both read before writing"
            won = [outcome for _, outcome in results if isinstance(outcome, Reservation)]
            lost = [outcome for _, outcome in results if isinstance(outcome, CapacityUnavailable)]
            assert len(won) == 1 and len(lost) == 1, f"round {round_}: {results}"
            assert lost[0].available_kw == 0
            async with session_factory() as session:
                assert await capacity.available_kw(session, grid_node, REDUCE, at(0), at(2)) == 0
                summary = {
                    (s.grid_node, s.direction): s for s in await capacity.node_summary(session, at(0.75))
                }
                assert summary[(grid_node, REDUCE)].committed_kw == Decimal(180)
    finally:
        for engine in engines:
            await engine.dispose()
