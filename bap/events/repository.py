"""All SQL on flexibility events and their offers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bap.events.models import OPEN_STATES, EventState, FlexEvent, FlexOffer
from bap.refs import by_prefix
from participant.db import utcnow
from participant.messagelog import Direction, MessageRecord


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, event: FlexEvent) -> FlexEvent:
        self.session.add(event)
        await self.session.flush()
        return event

    async def get(self, event_id: str) -> FlexEvent | None:
        return await self.session.get(FlexEvent, event_id)

    async def lock(self, event_id: str) -> FlexEvent | None:
        """The event, row-locked until the transaction ends (PostgreSQL; SQLite has one writer anyway),
        so callbacks for sibling orders that derive the event's state from its orders take turns."""
        query = (
            select(FlexEvent)
            .where(FlexEvent.id == event_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return cast(FlexEvent | None, await self.session.scalar(query))

    async def find(self, ref: str) -> FlexEvent:
        return await by_prefix(self.session, FlexEvent, FlexEvent.id, ref, "event")

    async def by_transaction(self, transaction_id: str) -> FlexEvent | None:
        query = select(FlexEvent).where(FlexEvent.transaction_id == transaction_id)
        return cast(FlexEvent | None, await self.session.scalar(query))

    async def in_states(self, states: Iterable[EventState], limit: int = 200) -> list[FlexEvent]:
        query = (
            select(FlexEvent)
            .where(FlexEvent.state.in_(list(states)))
            .order_by(FlexEvent.created_at.desc())
            .limit(limit)
        )
        return list(await self.session.scalars(query))

    async def open_events(self) -> list[FlexEvent]:
        return await self.in_states(OPEN_STATES)

    async def recent(self, limit: int = 100) -> list[FlexEvent]:
        query = select(FlexEvent).order_by(FlexEvent.created_at.desc()).limit(limit)
        return list(await self.session.scalars(query))

    async def due_for_close(self, now: datetime) -> list[str]:
        query = select(FlexEvent.id).where(
            FlexEvent.state == EventState.COLLECTING, FlexEvent.collect_until <= now
        )
        return list(await self.session.scalars(query))

    async def next_close(self) -> datetime | None:
        query = select(func.min(FlexEvent.collect_until)).where(FlexEvent.state == EventState.COLLECTING)
        value: datetime | None = await self.session.scalar(query)
        return value

    async def transition(
        self, event_id: str, from_states: Iterable[EventState], to_state: EventState, **values: Any
    ) -> bool:
        """Move the event only if it is still in one of `from_states`: whoever gets there first wins."""
        result = await self.session.execute(
            update(FlexEvent)
            .where(FlexEvent.id == event_id, FlexEvent.state.in_(list(from_states)))
            .values(state=to_state, updated_at=utcnow(), **values)
            .execution_options(synchronize_session="fetch")
        )
        return cast(CursorResult[Any], result).rowcount == 1

    async def offers(self, event_id: str) -> list[FlexOffer]:
        query = (
            select(FlexOffer)
            .where(FlexOffer.event_id == event_id)
            .order_by(FlexOffer.received_at, FlexOffer.aggregator_id, FlexOffer.item_id)
        )
        return list(await self.session.scalars(query))

    async def offer(self, offer_id: str) -> FlexOffer | None:
        return await self.session.get(FlexOffer, offer_id)

    async def find_offer(self, ref: str) -> FlexOffer:
        return await by_prefix(self.session, FlexOffer, FlexOffer.id, ref, "offer")

    async def add_offers(self, offers: Iterable[FlexOffer]) -> list[FlexOffer]:
        """Store new offers; an item this aggregator already offered for the event is kept as first sent."""
        added = []
        for offer in offers:
            existing = await self.session.scalar(
                select(FlexOffer.id).where(
                    FlexOffer.event_id == offer.event_id,
                    FlexOffer.aggregator_id == offer.aggregator_id,
                    FlexOffer.provider_id == offer.provider_id,
                    FlexOffer.item_id == offer.item_id,
                )
            )
            if existing is None:
                self.session.add(offer)
                added.append(offer)
        await self.session.flush()
        return added

    async def responders(self, transaction_id: str) -> set[str]:
        """Who answered the search: senders of accepted on_search callbacks in its transaction."""
        query = select(MessageRecord.counterparty).where(
            MessageRecord.transaction_id == transaction_id,
            MessageRecord.direction == Direction.INBOUND,
            MessageRecord.action == "on_search",
            MessageRecord.dedupe_key.is_not(None),
        )
        return {sender for sender in await self.session.scalars(query) if sender}
