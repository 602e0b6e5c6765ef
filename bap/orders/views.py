"""Orders as the API and the consoles show them (numbers as decimal strings, times as RFC 3339)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bap.orders.models import Order
from bap.orders.wire import reported_verdict
from participant.messagelog import MessageRecord


def text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def outcome_of(order: Order) -> str | None:
    """How the order's event went by the aggregator's word, COMPLETED or PARTIAL; None until it says.

    `state` COMPLETED only means the order has ended; this is whether it delivered what it committed."""
    return order.outcome or reported_verdict(None, order.settlement or {})


def outcome_view(order: Order) -> dict[str, Any]:
    """One order in the `completed` message: committed against delivered, and the verdict."""
    return {
        "order_id": order.id,
        "aggregator_id": order.aggregator_id,
        "outcome": outcome_of(order),
        "committed_kw": text(order.committed_kw),
        "delivered_kw": text(order.delivered_kw),
        "delivered_kwh": text(order.delivered_kwh),
        "shortfall_kwh": (order.settlement or {}).get("shortfall_kwh"),
    }


def order_view(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "event_id": order.event_id,
        "round": order.round,
        "aggregator_id": order.aggregator_id,
        "provider_id": order.provider_id,
        "transaction_id": order.transaction_id,
        "bpp_order_id": order.bpp_order_id,
        "state": order.state.value,
        "waiting_for": f"on_{order.step.value}" if order.step else None,
        "fulfillment_state": order.fulfillment_state,
        "outcome": outcome_of(order),
        "window": {"start": order.window_start.isoformat(), "end": order.window_end.isoformat()},
        "items": order.items,
        "requested_kw": text(order.requested_kw),
        "expected_kw": text(order.expected_kw),
        "committed_kw": text(order.committed_kw),
        "delivered_kw": text(order.delivered_kw),
        "delivered_kwh": text(order.delivered_kwh),
        "baseline_kw": text(order.baseline_kw),
        "actual_kw": text(order.actual_kw),
        "devices": order.devices,
        "devices_acked": order.devices_acked,
        "devices_opted_out": order.devices_opted_out,
        "expected_cost": text(order.expected_cost),
        "quoted_cost": text(order.quoted_cost),
        "currency": order.currency,
        "settlement": order.settlement,
        "failure_reason": order.failure_reason,
        "confirmed_at": order.confirmed_at.isoformat() if order.confirmed_at else None,
        "updated_at": order.updated_at.isoformat(),
    }


def progress_view(order: Order) -> dict[str, Any]:
    """The `progress` console message: where one order stands, committed against delivered, quoted against
    settled."""
    return {
        "event_id": order.event_id,
        "order_id": order.id,
        "aggregator_id": order.aggregator_id,
        "bpp_order_id": order.bpp_order_id,
        "state": order.state.value,
        "waiting_for": f"on_{order.step.value}" if order.step else None,
        "fulfillment_state": order.fulfillment_state,
        "outcome": outcome_of(order),
        "requested_kw": text(order.requested_kw),
        "committed_kw": text(order.committed_kw),
        "delivered_kw": text(order.delivered_kw),
        "delivered_kwh": text(order.delivered_kwh),
        "quoted_cost": text(order.quoted_cost),
        "currency": order.currency,
        "settlement": order.settlement,
        "failure_reason": order.failure_reason,
    }


def participation_view(order: Order) -> dict[str, Any]:
    return {
        "event_id": order.event_id,
        "order_id": order.id,
        "aggregator_id": order.aggregator_id,
        "devices": order.devices,
        "devices_acked": order.devices_acked,
        "devices_opted_out": order.devices_opted_out,
    }


def timeline_view(record: MessageRecord) -> dict[str, Any]:
    return {
        "at": record.created_at.isoformat(),
        "direction": record.direction.value,
        "action": record.action,
        "message_id": record.message_id,
        "counterparty": record.counterparty,
        "ack_status": record.ack_status,
        "error_code": record.error_code,
        "error_message": record.error_message,
        "body": record.body.decode("utf-8", errors="replace"),
    }
