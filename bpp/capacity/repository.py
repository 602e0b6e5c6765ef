"""All SQL on `bpp_reservations` and `bpp_grid_node_locks`.

Reads use `populate_existing` so that a session which already loaded a reservation still sees the
latest committed kW and window once it holds the grid node's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.capacity.models import ACTIVE_STATUSES, GridNodeLock, Reservation
from bpp.fleet.models import FlexDirection


class ReservationRepository:
    """Reads and writes reservations in the caller's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_grid_node(self, grid_node: str) -> None:
        """Serialize reservation changes on one grid node until this transaction ends.

        Writes before anything is read: PostgreSQL row-locks the lock row, SQLite takes its database
        write lock; a concurrent transaction waits here and then reads what this one committed.
        """
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await self.session.execute(
            insert(GridNodeLock).values(grid_node=grid_node, version=0).on_conflict_do_nothing()
        )
        await self.session.execute(
            update(GridNodeLock)
            .where(GridNodeLock.grid_node == grid_node)
            .values(version=GridNodeLock.version + 1)
            .execution_options(synchronize_session=False)
        )

    async def get(self, reservation_id: str) -> Reservation | None:
        statement = select(Reservation).where(Reservation.id == reservation_id)
        return (await self.session.scalars(_fresh(statement))).one_or_none()

    async def for_order(self, order_id: str) -> Sequence[Reservation]:
        statement = (
            select(Reservation).where(Reservation.order_id == order_id).order_by(Reservation.created_at)
        )
        return (await self.session.scalars(_fresh(statement))).all()

    async def active_overlapping(
        self,
        grid_node: str,
        direction: FlexDirection,
        window_start: datetime,
        window_end: datetime,
        *,
        exclude_id: str | None = None,
    ) -> Sequence[Reservation]:
        """HELD or COMMITTED reservations whose window meets [window_start, window_end)."""
        statement = select(Reservation).where(
            Reservation.grid_node == grid_node,
            Reservation.direction == direction,
            Reservation.status.in_(ACTIVE_STATUSES),
            Reservation.window_start < window_end,
            Reservation.window_end > window_start,
        )
        if exclude_id is not None:
            statement = statement.where(Reservation.id != exclude_id)
        return (await self.session.scalars(_fresh(statement))).all()

    async def active_at(self, at: datetime) -> Sequence[Reservation]:
        statement = select(Reservation).where(
            Reservation.status.in_(ACTIVE_STATUSES),
            Reservation.window_start <= at,
            Reservation.window_end > at,
        )
        return (await self.session.scalars(_fresh(statement))).all()

    async def count_starting(
        self, grid_node: str, direction: FlexDirection, start: datetime, end: datetime
    ) -> int:
        """HELD or COMMITTED reservations starting in [start, end): the events of that period."""
        statement = select(func.count()).where(
            Reservation.grid_node == grid_node,
            Reservation.direction == direction,
            Reservation.status.in_(ACTIVE_STATUSES),
            Reservation.window_start >= start,
            Reservation.window_start < end,
        )
        return int((await self.session.scalar(statement)) or 0)

    async def add(self, reservation: Reservation) -> Reservation:
        self.session.add(reservation)
        await self.session.flush()
        return reservation

    async def flush(self) -> None:
        await self.session.flush()


def _fresh(statement: Select[Reservation]) -> Select[Reservation]:
    return statement.execution_options(populate_existing=True)
