"""All SQL on the audit trail (it is only ever added to, in `service.record`, and read)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bap.audit.models import AuditEntry


async def entries(
    session: AsyncSession, *, since: datetime | None = None, actor: str | None = None, limit: int = 200
) -> list[AuditEntry]:
    query = select(AuditEntry)
    if since is not None:
        query = query.where(AuditEntry.created_at >= since)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    query = query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(limit)
    return list(await session.scalars(query))
