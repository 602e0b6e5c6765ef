"""All SQL on alerts, and the signature failures the message log holds (they are alerts too)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bap.alerts.models import Alert
from participant.messagelog import Direction, MessageRecord


class AlertRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, alert: Alert) -> Alert:
        self.session.add(alert)
        await self.session.flush()
        return alert

    async def recent(
        self, *, since: datetime | None = None, event_id: str | None = None, limit: int = 100
    ) -> list[Alert]:
        query = select(Alert)
        if since is not None:
            query = query.where(Alert.created_at >= since)
        if event_id is not None:
            query = query.where(Alert.event_id == event_id)
        query = query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)
        return list(await self.session.scalars(query))

    async def signature_failures(
        self, *, since: datetime | None = None, limit: int = 100
    ) -> list[MessageRecord]:
        """Inbound messages refused for their signature (HTTP 401), newest first."""
        query = select(MessageRecord).where(
            MessageRecord.direction == Direction.INBOUND, MessageRecord.http_status == 401
        )
        if since is not None:
            query = query.where(MessageRecord.created_at >= since)
        query = query.order_by(MessageRecord.created_at.desc()).limit(limit)
        return list(await self.session.scalars(query))
