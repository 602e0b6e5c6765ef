"""All SQL on `bpp_orders`, `bpp_order_events` and `bpp_dispatch_queue`.

`lock=True` reads take the order's row lock (`SELECT … FOR UPDATE` on PostgreSQL; on SQLite the
receiving transaction already holds the database write lock), so two messages about one order change it
one after the other, each seeing what the other committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.fleet.models import FlexDirection
from bpp.orders.models import DispatchTask, Order, OrderEvent
from bpp.orders.states import FulfillmentState, OrderStatus


class OrderRepository:
    """Reads and writes orders and their events in the caller's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, order_id: str, *, lock: bool = False) -> Order | None:
        return await self._one(select(Order).where(Order.id == order_id), lock=lock)

    async def for_bap(self, order_id: str, bap_id: str, *, lock: bool = False) -> Order | None:
        """The order, if it belongs to that BAP: another buyer's order is as unknown as a missing one."""
        return await self._one(select(Order).where(Order.id == order_id, Order.bap_id == bap_id), lock=lock)

    async def in_transaction(self, bap_id: str, transaction_id: str, *, lock: bool = False) -> Order | None:
        statement = select(Order).where(Order.bap_id == bap_id, Order.transaction_id == transaction_id)
        return await self._one(statement, lock=lock)

    async def _one(self, statement: Select[Order], *, lock: bool) -> Order | None:
        statement = statement.execution_options(populate_existing=True)
        if lock:
            statement = statement.with_for_update()
        return (await self.session.scalars(statement)).one_or_none()

    async def add(self, order: Order) -> Order:
        self.session.add(order)
        await self.session.flush()
        return order

    async def flush(self) -> None:
        await self.session.flush()

    async def add_event(self, event: OrderEvent) -> OrderEvent:
        self.session.add(event)
        await self.session.flush()
        return event

    async def events(self, order_id: str) -> Sequence[OrderEvent]:
        statement = select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        return (await self.session.scalars(statement)).all()

    async def search(
        self,
        *,
        status: OrderStatus | None = None,
        fulfillment_state: FulfillmentState | None = None,
        grid_node: str | None = None,
        direction: FlexDirection | None = None,
        bap_id: str | None = None,
        transaction_id: str | None = None,
        starts_after: datetime | None = None,
        starts_before: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Order]:
        """Newest first, filtered by any combination of the arguments."""
        statement = select(Order)
        filters = {
            Order.status: status,
            Order.fulfillment_state: fulfillment_state,
            Order.grid_node: grid_node,
            Order.direction: direction,
            Order.bap_id: bap_id,
            Order.transaction_id: transaction_id,
        }
        for column, value in filters.items():
            if value is not None:
                statement = statement.where(column == value)
        if starts_after is not None:
            statement = statement.where(Order.window_start >= starts_after)
        if starts_before is not None:
            statement = statement.where(Order.window_start < starts_before)
        statement = statement.order_by(Order.created_at.desc(), Order.id).limit(limit).offset(offset)
        return (await self.session.scalars(statement)).all()


class DispatchQueueRepository:
    """The dispatcher's work queue; `pending` skips rows another replica has locked (PostgreSQL)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, task: DispatchTask) -> DispatchTask:
        self.session.add(task)
        await self.session.flush()
        return task

    async def pending(self, limit: int = 100) -> Sequence[DispatchTask]:
        statement = (
            select(DispatchTask)
            .where(DispatchTask.dispatched_at.is_(None))
            .order_by(DispatchTask.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return (await self.session.scalars(statement)).all()

    async def for_order(self, order_id: str) -> Sequence[DispatchTask]:
        statement = select(DispatchTask).where(DispatchTask.order_id == order_id).order_by(DispatchTask.id)
        return (await self.session.scalars(statement)).all()

    async def mark_dispatched(self, task_ids: Sequence[int], at: datetime) -> None:
        await self.session.execute(
            update(DispatchTask)
            .where(DispatchTask.id.in_(list(task_ids)), DispatchTask.dispatched_at.is_(None))
            .values(dispatched_at=at)
            .execution_options(synchronize_session=False)
        )
