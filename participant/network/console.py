"""The demo operator: a client of the BAP's console WebSocket (docs/websocket.md), reading frames and
sending commands such as `yes, proceed`, exactly as a person's console would.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

Frame = dict[str, Any]


class ConsoleError(Exception):
    """The console connection could not be opened or broke."""


class OperatorConsole:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    @classmethod
    @asynccontextmanager
    async def open(cls, base_url: str, token: str) -> AsyncIterator[Self]:
        scheme, _, rest = base_url.partition("://")
        url = f"{'wss' if scheme == 'https' else 'ws'}://{rest}/api/ws?token={token}"
        try:
            async with connect(url, open_timeout=15, proxy=None, max_size=None) as connection:
                yield cls(connection)
        except (OSError, WebSocketException) as exc:
            raise ConsoleError(f"console connection to {base_url}: {exc}") from None

    async def next(self) -> Frame:
        try:
            raw = await self.connection.recv()
        except WebSocketException as exc:
            raise ConsoleError(f"the console connection closed: {exc}") from None
        frame: Frame = json.loads(raw)
        return frame

    async def send(self, command: str) -> None:
        try:
            await self.connection.send(command)
        except WebSocketException as exc:
            raise ConsoleError(f"cannot send {command!r}: {exc}") from None
