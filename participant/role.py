"""Which side of a Beckn exchange a participant plays, and so which actions it receives."""

from __future__ import annotations

from enum import StrEnum

from schemas.core_v1 import IMPLEMENTED_ACTIONS, NOT_APPLICABLE_ACTIONS, Action


class Role(StrEnum):
    BAP = "BAP"
    BPP = "BPP"

    @property
    def receives(self) -> tuple[Action, ...]:
        """A BPP receives requests at `<url>/<action>`, a BAP their callbacks at `<url>/on_<action>`."""
        requests = (*IMPLEMENTED_ACTIONS, *NOT_APPLICABLE_ACTIONS)
        if self is Role.BPP:
            return tuple(requests)
        return tuple(action.callback for action in requests)
