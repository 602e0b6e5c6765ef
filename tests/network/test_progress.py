"""The demo's phases from console frames (docs/websocket.md), with and without a dispatcher."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from participant.network.display import PlainDisplay
from participant.network.progress import Phase, Status, Tracker

EVENT = "ev-1"


def frame(kind: str, **data: Any) -> dict[str, Any]:
    return {"type": kind, "seq": 1, "at": "2026-01-01T00:00:00+00:00", "data": {"event_id": EVENT, **data}}


def offers(aggregator: str, *kws: str) -> dict[str, Any]:
    listed = [{"aggregator_id": aggregator, "available_kw": kw} for kw in kws]
    return frame("options", from_aggregator=aggregator, offers=listed)


def recommendation(requires_approval: bool = True) -> dict[str, Any]:
    selections = [
        {"aggregator_id": "alpha", "kw": "60", "price_per_kwh": "0.2"},
        {"aggregator_id": "beta", "kw": "32.6", "price_per_kwh": "0.28"},
    ]
    return frame(
        "recommendation",
        selections=selections,
        cost="0.35",
        gap_kw="0",
        requires_approval=requires_approval,
        state="AWAITING_APPROVAL" if requires_approval else "ACTIVATING",
    )


def progress(
    order: str, aggregator: str, state: str, fulfillment: str | None = None, **kw: str
) -> dict[str, Any]:
    return frame(
        "progress",
        order_id=order,
        aggregator_id=aggregator,
        state=state,
        fulfillment_state=fulfillment,
        requested_kw=kw.get("requested", "60"),
        committed_kw=kw.get("committed"),
        delivered_kw=kw.get("delivered"),
    )


def through_confirmation(tracker: Tracker) -> None:
    tracker.event_id = EVENT
    for item in (
        offers("alpha", "60"),
        offers("beta", "250"),
        offers("gamma"),
        recommendation(),
        progress("o1", "alpha", "SELECTING"),
        progress("o2", "beta", "SELECTING"),
        progress("o1", "alpha", "ACTIVE", "SCHEDULED", committed="60"),
        progress("o2", "beta", "ACTIVE", "SCHEDULED", committed="32.6"),
    ):
        tracker.apply(item)


def test_discovery_counts_the_aggregators_that_answered() -> None:
    tracker = Tracker(aggregators=3, dispatch_available=False)
    tracker.apply(offers("alpha", "60"))
    state = tracker.phases[Phase.DISCOVERY]
    assert state.status is Status.RUNNING and (state.done, state.total) == (Decimal(1), Decimal(3))
    assert "1/3 aggregators answered; 1 offers, 60 kW" == state.detail


def test_a_recommendation_waiting_for_approval_then_orders_confirmed() -> None:
    tracker = Tracker(aggregators=3, dispatch_available=False)
    tracker.event_id = EVENT
    tracker.apply(recommendation())
    assert tracker.phases[Phase.APPROVAL].status is Status.RUNNING
    assert "alpha 60 kW @ 0.2" in tracker.phases[Phase.RECOMMENDATION].detail
    through_confirmation(tracker)
    assert tracker.phases[Phase.APPROVAL].status is Status.DONE
    assert tracker.confirmed and tracker.failure is None
    assert tracker.phases[Phase.ORDERS].detail == "2/2 confirmed, 92.6 kW committed"
    assert tracker.phases[Phase.DISPATCH].status is Status.UNAVAILABLE
    tracker.set(Phase.DISPATCH, Status.DONE, "cannot happen")
    assert tracker.phases[Phase.DISPATCH].status is Status.UNAVAILABLE


def test_a_failed_order_replaced_by_another_does_not_hold_up_confirmation() -> None:
    tracker = Tracker(aggregators=2, dispatch_available=False)
    tracker.apply(progress("o1", "alpha", "FAILED"))
    tracker.apply(progress("o3", "beta", "ACTIVE", "SCHEDULED", committed="60"))
    assert tracker.confirmed
    assert "1 failed over" in tracker.phases[Phase.ORDERS].detail


def test_dispatch_acks_delivery_and_settlement() -> None:
    tracker = Tracker(aggregators=3, dispatch_available=True)
    through_confirmation(tracker)
    assert tracker.phases[Phase.DISPATCH].status is Status.PENDING
    tracker.apply(progress("o1", "alpha", "ACTIVE", "DISPATCHED", committed="60"))
    assert tracker.phases[Phase.DISPATCH].detail == "1/2 dispatched"
    tracker.apply(frame("participation", order_id="o1", devices=40, devices_acked=30, devices_opted_out=2))
    assert tracker.phases[Phase.ACKS].detail == "30 devices acked, 2 opted out"
    assert tracker.phases[Phase.ACKS].status is Status.RUNNING
    tracker.apply(progress("o2", "beta", "ACTIVE", "IN_PROGRESS", committed="32.6", delivered="20"))
    assert tracker.phases[Phase.DISPATCH].status is Status.DONE
    assert tracker.phases[Phase.DELIVERY].status is Status.RUNNING
    tracker.apply(progress("o1", "alpha", "COMPLETED", "COMPLETED", committed="60", delivered="58"))
    tracker.apply(progress("o2", "beta", "COMPLETED", "PARTIAL", committed="32.6", delivered="30"))
    assert tracker.phases[Phase.DELIVERY].status is Status.DONE
    assert tracker.phases[Phase.ACKS].status is Status.DONE
    assert tracker.phases[Phase.DELIVERY].detail == "88 kW of 92.6 kW committed"
    assert not tracker.settled
    tracker.apply(progress("o1", "alpha", "COMPLETED", "SETTLED", committed="60", delivered="58"))
    assert tracker.phases[Phase.SETTLEMENT].detail == "1/2 settled"
    # a settlement whose report overtook the PARTIAL one still counts as settled
    late = progress("o2", "beta", "COMPLETED", "PARTIAL", committed="32.6", delivered="30")
    late["data"]["settlement"] = {"net_amount": "0.11"}
    tracker.apply(late)
    assert tracker.settled and tracker.phases[Phase.SETTLEMENT].status is Status.DONE


def test_frames_of_other_events_are_ignored() -> None:
    tracker = Tracker(aggregators=3, dispatch_available=False)
    tracker.event_id = "another"
    tracker.apply(offers("alpha", "60"))
    assert tracker.phases[Phase.DISCOVERY].status is Status.PENDING


def test_activation_failure_fails_the_demo() -> None:
    tracker = Tracker(aggregators=3, dispatch_available=False)
    tracker.apply(frame("error", code="activation_failed", message="no aggregator confirmed"))
    assert tracker.failure == "orders: no aggregator confirmed"


def test_plain_output_shows_phases_in_order_and_each_change_once() -> None:
    stream = io.StringIO()
    display = PlainDisplay(stream)
    tracker = Tracker(aggregators=3, dispatch_available=False)
    display.refresh(tracker)
    assert stream.getvalue() == ""  # nothing started yet; the unavailable phases come at their turn
    tracker.set(Phase.NETWORK, Status.DONE, "9 processes")
    display.refresh(tracker)
    display.refresh(tracker)
    assert stream.getvalue().splitlines() == ["✓ network           9 processes"]
    through_confirmation(tracker)
    tracker.set(Phase.ALERT, Status.DONE, "80 kW needed")
    display.refresh(tracker)
    lines = stream.getvalue().splitlines()
    assert lines[-4:] == [
        f"– {name.ljust(17)} not available in this build"
        for name in ("dispatch", "acknowledgements", "delivery", "settlement")
    ]
