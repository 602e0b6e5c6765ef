"""The order state machine: the status follows the fulfillment, and only the documented moves exist."""

from __future__ import annotations

import pytest

from bpp.orders.states import FULFILLMENT_TRANSITIONS, FulfillmentState, OrderStatus, can_move, status_for

F = FulfillmentState


def test_the_status_follows_the_fulfillment_state() -> None:
    assert status_for(None) is OrderStatus.DRAFT
    assert {state: status_for(state) for state in F} == {
        F.SCHEDULED: OrderStatus.ACTIVE,
        F.DISPATCHED: OrderStatus.ACTIVE,
        F.IN_PROGRESS: OrderStatus.ACTIVE,
        F.COMPLETED: OrderStatus.COMPLETE,
        F.PARTIAL: OrderStatus.COMPLETE,
        F.SETTLED: OrderStatus.COMPLETE,
        F.CANCELLED: OrderStatus.CANCELLED,
    }


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (None, F.SCHEDULED),
        (None, F.CANCELLED),
        (F.SCHEDULED, F.DISPATCHED),
        (F.SCHEDULED, F.CANCELLED),
        (F.DISPATCHED, F.IN_PROGRESS),
        (F.DISPATCHED, F.COMPLETED),
        (F.IN_PROGRESS, F.PARTIAL),
        (F.COMPLETED, F.SETTLED),
        (F.PARTIAL, F.SETTLED),
    ],
)
def test_allowed_moves(current: FulfillmentState | None, target: FulfillmentState) -> None:
    assert can_move(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (None, F.DISPATCHED),
        (F.SCHEDULED, F.COMPLETED),
        (F.DISPATCHED, F.CANCELLED),
        (F.IN_PROGRESS, F.SCHEDULED),
        (F.COMPLETED, F.PARTIAL),
        (F.SETTLED, F.CANCELLED),
        (F.CANCELLED, F.SCHEDULED),
    ],
)
def test_refused_moves(current: FulfillmentState | None, target: FulfillmentState) -> None:
    assert not can_move(current, target)


def test_every_state_is_reachable_and_every_path_ends() -> None:
    reached: set[FulfillmentState] = set()
    frontier = [state for state in F if can_move(None, state)]
    while frontier:
        state = frontier.pop()
        if state not in reached:
            reached.add(state)
            frontier.extend(FULFILLMENT_TRANSITIONS[state])
    assert reached == set(F)
    final = {state for state, targets in FULFILLMENT_TRANSITIONS.items() if not targets}
    assert final == {F.SETTLED, F.CANCELLED}
