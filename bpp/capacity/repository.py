"""All SQL on `bpp_reservations` and `bpp_grid_node_locks`.

Reads use `populate_existing` so that a session which already loaded a reservation still sees the
latest committed kW and window once it holds the grid node's lock. A reservation is live (it takes kW)
when COMMITTED, or HELD and not expired at the caller's `now`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.capacity.models import GridNodeLock, Reservation, ReservationStatus
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
        now: datetime,
        exclude_id: str | None = None,
    ) -> Sequence[Reservation]:
        """Reservations live at `now` whose window meets [window_start, window_end)."""
        statement = select(Reservation).where(
            Reservation.grid_node == grid_node,
            Reservation.direction == direction,
            _live(now),
            Reservation.window_start < window_end,
            Reservation.window_end > window_start,
        )
        if exclude_id is not None:
            statement = statement.where(Reservation.id != exclude_id)
        return (await self.session.scalars(_fresh(statement))).all()

    async def active_at(self, at: datetime, *, now: datetime) -> Sequence[Reservation]:
        """Reservations live at `now` whose window contains the instant `at`."""
        statement = select(Reservation).where(
            _live(now),
            Reservation.window_start <= at,
            Reservation.window_end > at,
        )
        return (await self.session.scalars(_fresh(statement))).all()

    async def count_starting(
        self,
        grid_node: str,
        direction: FlexDirection,
        start: datetime,
        end: datetime,
        *,
        now: datetime,
        exclude_id: str | None = None,
    ) -> int:
        """Reservations live at `now` starting in [start, end): the events of that period."""
        statement = select(func.count()).where(
            Reservation.grid_node == grid_node,
            Reservation.direction == direction,
            _live(now),
            Reservation.window_start >= start,
            Reservation.window_start < end,
        )
        if exclude_id is not None:
            statement = statement.where(Reservation.id != exclude_id)
        return int((await self.session.scalar(statement)) or 0)

    async def add(self, reservation: Reservation) -> Reservation:
        self.session.add(reservation)
        await self.session.flush()
        return reservation

    async def flush(self) -> None:
        await self.session.flush()


def _live(now: datetime) -> ColumnElement[bool]:
    """COMMITTED, or HELD and not yet expired: the reservations that take kW from a node."""
    return or_(
        Reservation.status == ReservationStatus.COMMITTED,
        and_(
            Reservation.status == ReservationStatus.HELD,
            or_(Reservation.expires_at.is_(None), Reservation.expires_at > now),
        ),
    )


def _fresh(statement: Select[Reservation]) -> Select[Reservation]:
    return statement.execution_options(populate_existing=True)
