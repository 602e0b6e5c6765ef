"""An operator's console for tests: a real WebSocket client (`websockets`) against the BAP's uvicorn.

`expect(type)` reads frames in order until one of that type arrives, keeping every frame so tests can
check sequence numbers; it fails after a timeout instead of sleeping.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect

TIMEOUT = 30.0

Frame = dict[str, Any]


class Console:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.frames: list[Frame] = []

    @classmethod
    @contextmanager
    def open(cls, base_url: str, token: str) -> Iterator[Console]:
        url = base_url.replace("http://", "ws://") + f"/api/ws?token={token}"
        with connect(url, open_timeout=TIMEOUT) as connection:
            yield cls(connection)

    def next(self, timeout: float = TIMEOUT) -> Frame:
        frame: Frame = json.loads(self.connection.recv(timeout=timeout))
        self.frames.append(frame)
        return frame

    def expect(
        self, kind: str, where: Callable[[Frame], bool] = lambda frame: True, timeout: float = TIMEOUT
    ) -> Frame:
        while True:
            frame = self.next(timeout)
            if frame["type"] == kind and where(frame):
                return frame

    def seen(self, kind: str, where: Callable[[Frame], bool] = lambda frame: True) -> list[Frame]:
        """Frames of `kind` read so far that match `where`."""
        return [frame for frame in self.frames if frame["type"] == kind and where(frame)]

    def until(self, done: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        """Read frames until `done()` holds (typically over `seen`), whatever order they come in."""
        while not done():
            self.next(timeout)

    def send(self, text: str) -> None:
        self.connection.send(text)

    def command(self, text: str) -> Frame:
        """Send a command and return its answer (`reply` or `error`), skipping pushes in between."""
        self.send(text)
        while True:
            frame = self.next()
            if frame["type"] in ("reply", "error") and (
                frame["type"] == "reply" or frame["data"].get("command") is not None
            ):
                return frame
