"""Messages this process accepted lately, so a replay is refused without a database round trip.

Only a fast first check: the UNIQUE `dedupe_key` of the message log stays the authority (another replica
may have accepted the message, or this process may have restarted since), so a miss here proves nothing
and the insert decides. A hit is always right, because an entry is added only once the database holds the
message (after the commit that accepted it, or when the insert found it there already).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from participant.messagelog import dedupe_key

DEFAULT_MAX_ENTRIES = 100_000
DEFAULT_MAX_SECONDS = 3600.0


class RecentMessages:
    """(sender, message_id) pairs, each kept until its message could no longer pass the checks anyway
    (its `timestamp + ttl + skew`), at most `max_seconds`; the oldest go first beyond `max_entries`."""

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.max_seconds = max_seconds
        self._clock = clock
        # dedupe key → when to forget it (clock seconds), in the order they were added.
        self._until: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._until)

    def seen(self, sender: str, message_id: str) -> bool:
        """Was this sender's message_id accepted by this process within its window?"""
        key = dedupe_key(sender, message_id)
        until = self._until.get(key)
        if until is None:
            return False
        if until <= self._clock():
            del self._until[key]
            return False
        return True

    def remember(self, sender: str, message_id: str, seconds: float | None) -> None:
        """Note a message the database now holds, for `seconds` (None: as long as allowed)."""
        keep = self.max_seconds if seconds is None else min(max(seconds, 0.0), self.max_seconds)
        if keep <= 0:
            return
        now = self._clock()
        key = dedupe_key(sender, message_id)
        self._until[key] = now + keep
        self._until.move_to_end(key)
        self._prune(now)

    def _prune(self, now: float) -> None:
        until = self._until
        while until:
            oldest = next(iter(until.values()))
            if oldest > now and len(until) <= self.max_entries:
                return
            until.popitem(last=False)

    def clear(self) -> None:
        self._until.clear()
