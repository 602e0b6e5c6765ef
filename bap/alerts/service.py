"""Raising alerts (stored, then pushed to every console after the commit) and listing them for the desk."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bap.alerts.models import Alert, AlertKind
from bap.alerts.repository import AlertRepository
from bap.console.messages import MessageType, message
from bap.desk import Desk
from bap.events.models import Severity
from participant.messagelog import MessageRecord

log = logging.getLogger(__name__)


async def raise_alert(
    session: AsyncSession,
    desk: Desk,
    kind: AlertKind,
    text: str,
    *,
    severity: Severity = Severity.HIGH,
    event_id: str | None = None,
    order_id: str | None = None,
    aggregator_id: str | None = None,
) -> Alert:
    alert = await AlertRepository(session).add(
        Alert(
            kind=kind,
            severity=severity,
            message=text,
            event_id=event_id,
            order_id=order_id,
            aggregator_id=aggregator_id,
        )
    )
    log.warning("alert %s: %s", kind.value, text, extra={"event_id": event_id, "order_id": order_id})
    desk.publish(session, message(MessageType.ALERT, **alert_view(alert)))
    return alert


def alert_view(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind.value,
        "severity": alert.severity.value,
        "message": alert.message,
        "event_id": alert.event_id,
        "order_id": alert.order_id,
        "aggregator_id": alert.aggregator_id,
        "created_at": alert.created_at.isoformat(),
    }


def signature_alert_view(record: MessageRecord) -> dict[str, Any]:
    sender = record.counterparty or "an unknown sender"
    return {
        "id": record.id,
        "kind": AlertKind.SIGNATURE_FAILURE.value,
        "severity": Severity.HIGH.value,
        "message": f"{record.action} from {sender} refused: {record.signature_verdict or 'bad signature'}",
        "event_id": None,
        "order_id": None,
        "aggregator_id": record.counterparty,
        "created_at": record.created_at.isoformat(),
    }


async def list_alerts(
    session: AsyncSession, *, since: datetime | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Stored alerts and signature failures from the message log, newest first."""
    repository = AlertRepository(session)
    views = [alert_view(alert) for alert in await repository.recent(since=since, limit=limit)]
    views += [signature_alert_view(r) for r in await repository.signature_failures(since=since, limit=limit)]
    views.sort(key=lambda view: view["created_at"], reverse=True)
    return views[:limit]
