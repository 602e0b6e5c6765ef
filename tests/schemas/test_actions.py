"""The action table: requests pair with callbacks, and every endpoint of the spec is known."""

from __future__ import annotations

import pytest

from schemas.core_v1 import IMPLEMENTED_ACTIONS, MESSAGE_MODELS, NOT_APPLICABLE_ACTIONS, Action
from tests.support.conformance import spec_actions


def test_actions_are_exactly_the_endpoints_of_transaction_yaml() -> None:
    assert {action.value for action in Action} == spec_actions()


def test_every_action_has_a_message_model() -> None:
    assert set(MESSAGE_MODELS) == set(Action)


@pytest.mark.parametrize("action", [action for action in Action if not action.is_callback])
def test_request_and_callback_pair_up(action: Action) -> None:
    callback = action.callback
    assert callback.is_callback
    assert callback.value == f"on_{action.value}"
    assert callback.request is action
    assert action.request is action
    assert callback.callback is callback


def test_implemented_and_not_applicable_actions_split_the_requests() -> None:
    requests = {action for action in Action if not action.is_callback}
    assert IMPLEMENTED_ACTIONS | NOT_APPLICABLE_ACTIONS == requests
    assert not IMPLEMENTED_ACTIONS & NOT_APPLICABLE_ACTIONS
    assert {a.value for a in IMPLEMENTED_ACTIONS} == {
        "search",
        "select",
        "init",
        "confirm",
        "status",
        "update",
        "cancel",
    }
    assert {a.value for a in NOT_APPLICABLE_ACTIONS} == {"track", "rating", "support"}
