"""Events, offers and recommendations as the API and the consoles show them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bap.events.models import EventState, FlexEvent, FlexOffer
from bap.orders.models import Order
from bap.orders.views import order_view, text

APPROVAL_PROMPT = "Reply 'yes, proceed' to activate, 'no' to decline, or 'show options'."


def offer_view(offer: FlexOffer) -> dict[str, Any]:
    return {
        "id": offer.id,
        "aggregator_id": offer.aggregator_id,
        "provider_id": offer.provider_id,
        "provider_name": offer.provider_name,
        "item_id": offer.item_id,
        "item_name": offer.item_name,
        "direction": offer.direction,
        "grid_node": offer.grid_node,
        "available_kw": text(offer.available_kw),
        "min_kw": text(offer.min_kw),
        "max_kw": text(offer.max_kw),
        "price_per_kwh": text(offer.price_per_kwh),
        "currency": offer.currency,
        "offer_reliability": text(offer.offer_reliability),
        "reliability": text(offer.reliability),
        "terms": offer.terms,
        "received_at": offer.received_at.isoformat(),
    }


def recommendation_view(event: FlexEvent) -> dict[str, Any] | None:
    if event.recommendation is None:
        return None
    awaiting = event.state is EventState.AWAITING_APPROVAL
    return {
        "event_id": event.id,
        "grid_node": event.grid_node,
        "state": event.state.value,
        "requires_approval": awaiting,
        "prompt": APPROVAL_PROMPT if awaiting else None,
        **event.recommendation,
    }


def event_view(
    event: FlexEvent,
    offers: Sequence[FlexOffer] | None = None,
    orders: Sequence[Order] | None = None,
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": event.id,
        "source": event.source.value,
        "state": event.state.value,
        "severity": event.severity.value,
        "grid_node": event.grid_node,
        "location": event.location,
        "direction": event.direction,
        "required_kw": text(event.required_kw),
        "headroom": text(event.headroom),
        "max_price": text(event.max_price_per_kwh),
        "window": {"start": event.window_start.isoformat(), "end": event.window_end.isoformat()},
        "transaction_id": event.transaction_id,
        "searched_bpps": event.searched_bpps,
        "collect_until": event.collect_until.isoformat(),
        "recommendation": recommendation_view(event),
        "decided_by": event.decided_by,
        "decided_at": event.decided_at.isoformat() if event.decided_at else None,
        "grid_alert": event.grid_alert,
        "note": event.note,
        "created_by": event.created_by,
        "created_at": event.created_at.isoformat(),
    }
    if offers is not None:
        view["offers"] = [offer_view(offer) for offer in offers]
    if orders is not None:
        view["orders"] = [order_view(order) for order in orders]
    return view
