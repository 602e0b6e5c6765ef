"""Fan-out of console messages: one bounded queue per connection, filled in one order for all of them.

`broadcast` is synchronous and runs on the event loop (typically from an after-commit hook), so every
connection sees the same messages in the same order. A console that falls `queue_size` messages behind
is told so and disconnected; on reconnecting it gets a fresh snapshot instead of a backlog.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bap.console.messages import ConsoleMessage
from participant.operators import Operator

log = logging.getLogger(__name__)

CLOSE = None
"""Put on a queue to end its writer."""


@dataclass(eq=False)
class Connection:
    """One operator's socket: its queue and the sequence number of the last frame written."""

    operator: Operator
    queue: asyncio.Queue[ConsoleMessage | None]
    seq: int = 0
    overflowed: bool = field(default=False)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


class ConsoleHub:
    def __init__(self, queue_size: int = 1000) -> None:
        self.queue_size = queue_size
        self._connections: set[Connection] = set()

    def __len__(self) -> int:
        return len(self._connections)

    def connect(self, operator: Operator) -> Connection:
        connection = Connection(operator, asyncio.Queue(maxsize=self.queue_size))
        self._connections.add(connection)
        return connection

    def disconnect(self, connection: Connection) -> None:
        self._connections.discard(connection)

    def broadcast(self, message: ConsoleMessage) -> None:
        for connection in list(self._connections):
            self.send(connection, message)

    def send(self, connection: Connection, message: ConsoleMessage) -> None:
        if connection.overflowed:
            return
        try:
            connection.queue.put_nowait(message)
        except asyncio.QueueFull:
            connection.overflowed = True
            self._connections.discard(connection)
            log.warning(
                "console of %s fell %d messages behind; closing it", connection.operator.name, self.queue_size
            )
            self._force_close(connection)

    def close_all(self) -> None:
        for connection in list(self._connections):
            self._force_close(connection)
        self._connections.clear()

    @staticmethod
    def _force_close(connection: Connection) -> None:
        """Make room for the close marker: the writer stops at it, whatever was queued before."""
        while True:
            try:
                connection.queue.put_nowait(CLOSE)
                return
            except asyncio.QueueFull:
                connection.queue.get_nowait()
