"""The audit trail: one row per desk action, written in the same transaction as the action itself.

Refused and forbidden attempts are written too (in their own small transaction, since the action's was
rolled back), so the trail also shows who tried what.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bap.audit.models import AuditEntry
from participant.operators import Operator, OperatorRole

POLICY = Operator("policy", OperatorRole.ADMIN)
"""The actor of what the approval policy does on its own (critical events)."""

SYSTEM = Operator("degflex", OperatorRole.ADMIN)
"""The actor of what the desk does on its own (fallbacks, releasing a late confirmation)."""


class Channel(StrEnum):
    API = "api"
    WEBSOCKET = "websocket"
    POLICY = "policy"
    NATS = "nats"
    SYSTEM = "system"


class Outcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"
    FORBIDDEN = "forbidden"


def record(
    session: AsyncSession,
    actor: Operator,
    action: str,
    *,
    channel: Channel,
    outcome: Outcome = Outcome.OK,
    target_type: str | None = None,
    target_id: str | None = None,
    **detail: Any,
) -> AuditEntry:
    entry = AuditEntry(
        actor=actor.name,
        role=actor.role.label,
        action=action,
        channel=channel.value,
        outcome=outcome.value,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
    )
    session.add(entry)
    return entry


def entry_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.created_at.isoformat(),
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "channel": entry.channel,
        "outcome": entry.outcome,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "detail": entry.detail,
    }
