"""All SQL on orders, and the message timeline of one order (read from the message log)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bap.orders.models import Order, OrderState
from bap.refs import by_prefix
from participant.messagelog import MessageRecord


class OrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, order: Order) -> Order:
        self.session.add(order)
        await self.session.flush()
        return order

    async def get(self, order_id: str) -> Order | None:
        return await self.session.get(Order, order_id)

    async def find(self, ref: str) -> Order:
        """By our id (or a prefix of it), else by the aggregator's order id."""
        by_bpp = await self.session.scalar(select(Order).where(Order.bpp_order_id == ref).limit(1))
        if by_bpp is not None:
            return by_bpp
        return await by_prefix(self.session, Order, Order.id, ref, "order")

    async def for_event(self, event_id: str) -> list[Order]:
        query = select(Order).where(Order.event_id == event_id).order_by(Order.created_at, Order.id)
        return list(await self.session.scalars(query))

    async def for_events(self, event_ids: Iterable[str]) -> dict[str, list[Order]]:
        ids = list(event_ids)
        grouped: dict[str, list[Order]] = {event_id: [] for event_id in ids}
        if not ids:
            return grouped
        query = select(Order).where(Order.event_id.in_(ids)).order_by(Order.created_at, Order.id)
        for order in await self.session.scalars(query):
            grouped[order.event_id].append(order)
        return grouped

    async def awaiting(self, message_id: str) -> Order | None:
        """The order whose pending step is the request with this message id."""
        query = select(Order).where(Order.step_message_id == message_id)
        return cast(Order | None, await self.session.scalar(query))

    async def by_bpp_order(self, aggregator_id: str, bpp_order_id: str) -> Order | None:
        query = (
            select(Order)
            .where(Order.aggregator_id == aggregator_id, Order.bpp_order_id == bpp_order_id)
            .order_by(Order.created_at.desc())
            .limit(1)
        )
        return cast(Order | None, await self.session.scalar(query))

    async def in_transaction(self, transaction_id: str, aggregator_id: str) -> Order | None:
        query = (
            select(Order)
            .where(Order.transaction_id == transaction_id, Order.aggregator_id == aggregator_id)
            .order_by(Order.created_at.desc())
            .limit(1)
        )
        return cast(Order | None, await self.session.scalar(query))

    async def due_steps(self, now: datetime) -> list[str]:
        query = select(Order.id).where(Order.step_deadline.is_not(None), Order.step_deadline <= now)
        return list(await self.session.scalars(query))

    async def next_step_deadline(self) -> datetime | None:
        value: datetime | None = await self.session.scalar(select(func.min(Order.step_deadline)))
        return value

    async def in_states(self, states: Iterable[OrderState], limit: int = 500) -> list[Order]:
        query = (
            select(Order).where(Order.state.in_(list(states))).order_by(Order.created_at.desc()).limit(limit)
        )
        return list(await self.session.scalars(query))

    async def finished(self, aggregator_ids: Iterable[str] | None = None) -> list[Order]:
        """Completed orders (with what they delivered), oldest first: the aggregators' track record."""
        query = select(Order).where(Order.state == OrderState.COMPLETED)
        if aggregator_ids is not None:
            query = query.where(Order.aggregator_id.in_(list(aggregator_ids)))
        return list(await self.session.scalars(query.order_by(Order.updated_at)))

    async def timeline(self, order: Order) -> list[MessageRecord]:
        """Every message exchanged with the order's aggregator in its transaction, in order."""
        query = (
            select(MessageRecord)
            .where(
                MessageRecord.transaction_id == order.transaction_id,
                or_(
                    MessageRecord.counterparty == order.aggregator_id,
                    MessageRecord.bpp_id == order.aggregator_id,
                ),
                MessageRecord.action.not_in(("search", "on_search")),
            )
            .order_by(MessageRecord.created_at, MessageRecord.id)
        )
        return list(await self.session.scalars(query))
