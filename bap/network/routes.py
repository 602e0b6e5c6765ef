"""`GET /api/status`: the utility's state at a glance and the aggregators the registry knows."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Request

from bap.alerts.tasks import GridAlertSubscriber
from bap.api import DeskDep
from bap.events.repository import EventRepository
from bap.orders.models import OrderState
from bap.orders.repository import OrderRepository
from participant.app import SessionDep
from participant.operators import ViewerDep
from registry_client.errors import RegistryClientError
from registry_client.lookup import SubscriberType

router = APIRouter(prefix="/api", tags=["status"])


@router.get("/status")
async def utility_status(
    request: Request, session: SessionDep, desk: DeskDep, _: ViewerDep
) -> dict[str, Any]:
    settings = desk.settings
    events = await EventRepository(session).recent(500)
    live = await OrderRepository(session).in_states(
        [OrderState.ACTIVE, *[s for s in OrderState if s.activating]]
    )
    try:
        found = await desk.runtime.keystore.find(SubscriberType.BPP, settings.domain)
        aggregators: list[dict[str, Any]] | str = [
            {
                "subscriber_id": bpp.subscriber_id,
                "url": bpp.url,
                "status": str(bpp.status),
                "valid_until": bpp.valid_until.isoformat() if bpp.valid_until else None,
            }
            for bpp in found
        ]
    except RegistryClientError as exc:
        aggregators = f"registry unavailable: {exc}"
    return {
        "subscriber_id": settings.subscriber_id,
        "domains": settings.domains,
        "gateway": settings.gateway_url,
        "policy": {
            "auto_activate_critical": settings.auto_activate_critical,
            "target_loading": str(settings.target_loading),
            "headroom": str(settings.headroom),
            "collection_seconds": settings.collection_seconds,
            "activation_timeout_seconds": settings.activation_timeout_seconds,
        },
        "events": dict(Counter(event.state.value for event in events)),
        "orders_in_progress": len(live),
        "committed_kw": str(sum((o.committed_kw or 0 for o in live if o.state is OrderState.ACTIVE), 0)),
        "consoles": len(desk.hub),
        "grid_alerts": grid_alerts(request),
        "aggregators": aggregators,
    }


def grid_alerts(request: Request) -> dict[str, Any] | None:
    """Whether grid alerts arrive over NATS (None: no NATS URL configured)."""
    subscriber = getattr(request.app.state, "grid_alerts", None)
    if not isinstance(subscriber, GridAlertSubscriber):
        return None
    return {"subject": subscriber.subject, "listening": subscriber.subscribed.is_set()}
