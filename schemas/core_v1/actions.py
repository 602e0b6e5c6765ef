"""The Beckn 1.1 transaction API actions, each request paired with its `on_*` callback."""

from __future__ import annotations

from enum import StrEnum

_CALLBACK_PREFIX = "on_"


class Action(StrEnum):
    """Every endpoint of the core 1.1 transaction API (`transaction.yaml`): ten requests, ten callbacks."""

    SEARCH = "search"
    SELECT = "select"
    INIT = "init"
    CONFIRM = "confirm"
    STATUS = "status"
    TRACK = "track"
    CANCEL = "cancel"
    UPDATE = "update"
    RATING = "rating"
    SUPPORT = "support"
    ON_SEARCH = "on_search"
    ON_SELECT = "on_select"
    ON_INIT = "on_init"
    ON_CONFIRM = "on_confirm"
    ON_STATUS = "on_status"
    ON_TRACK = "on_track"
    ON_CANCEL = "on_cancel"
    ON_UPDATE = "on_update"
    ON_RATING = "on_rating"
    ON_SUPPORT = "on_support"

    @property
    def is_callback(self) -> bool:
        """A callback travels BPP → BAP and answers a request of the same transaction."""
        return self.value.startswith(_CALLBACK_PREFIX)

    @property
    def callback(self) -> Action:
        """The callback side of this exchange (`search` → `on_search`; a callback is its own)."""
        return self if self.is_callback else Action(_CALLBACK_PREFIX + self.value)

    @property
    def request(self) -> Action:
        """The request side of this exchange (`on_search` → `search`; a request is its own)."""
        return Action(self.value.removeprefix(_CALLBACK_PREFIX))


IMPLEMENTED_ACTIONS: frozenset[Action] = frozenset(
    {
        Action.SEARCH,
        Action.SELECT,
        Action.INIT,
        Action.CONFIRM,
        Action.STATUS,
        Action.UPDATE,
        Action.CANCEL,
    }
)
"""Requests degflex serves (a BPP receives them, a BAP receives their callbacks)."""

NOT_APPLICABLE_ACTIONS: frozenset[Action] = frozenset({Action.TRACK, Action.RATING, Action.SUPPORT})
"""Requests answered with a NACK, code 40001: flexibility has nothing to track, rate or support."""
