"""`/api/ws?token=…`: the operators' console socket (protocol in docs/websocket.md).

The first frame is a `snapshot`; after it, every frame comes from the connection's queue, so pushes and
command replies reach the operator in one order with consecutive `seq`. Frames from the operator are
plain commands (`yes, proceed`), or `{"command": "…"}` as JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketState

from bap.console.commands import parse_command
from bap.console.dispatch import execute
from bap.console.hub import Connection
from bap.console.snapshot import snapshot
from bap.desk import Desk
from participant.app import unit_of_work
from participant.operators import Operator, OperatorRegistry

log = logging.getLogger(__name__)

router = APIRouter(tags=["console"])

UNAUTHORIZED = 4401
"""Close code when the server cannot answer the handshake with HTTP 401."""
TRY_AGAIN_LATER = 1013


def authenticate(websocket: WebSocket, token: str | None) -> Operator | None:
    registry = getattr(websocket.app.state, "operators", None)
    if not isinstance(registry, OperatorRegistry):
        return None
    if not token:
        header = websocket.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else None
    return registry.authenticate(token) if token else None


async def deny(websocket: WebSocket) -> None:
    """Refuse the handshake with HTTP 401 where the server allows it, else with close code 4401."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        body = {"detail": "missing or unknown operator token"}
        await websocket.send_denial_response(
            JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        )
    else:
        await websocket.close(code=UNAUTHORIZED)


@router.websocket("/api/ws")
async def console(websocket: WebSocket, token: str | None = None) -> None:
    operator = authenticate(websocket, token)
    if operator is None:
        await deny(websocket)
        return
    desk: Desk = websocket.app.state.desk
    await websocket.accept()
    connection = desk.hub.connect(operator)
    try:
        async with unit_of_work(desk.session_factory) as session:
            first = await snapshot(session, operator)
        await websocket.send_json(first.frame(connection.next_seq()))
        writer = asyncio.create_task(_write(websocket, connection), name=f"console-writer:{operator.name}")
        reader = asyncio.create_task(
            _read(websocket, desk, connection), name=f"console-reader:{operator.name}"
        )
        done, pending = await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and (error := task.exception()) is not None and not _closed(error):
                log.error("console of %s failed", operator.name, exc_info=error)
    except WebSocketDisconnect:
        pass
    finally:
        desk.hub.disconnect(connection)
        if websocket.client_state is WebSocketState.CONNECTED:
            try:
                await websocket.close()
            except RuntimeError:
                pass


async def _write(websocket: WebSocket, connection: Connection) -> None:
    while True:
        item = await connection.queue.get()
        if item is None:
            code = TRY_AGAIN_LATER if connection.overflowed else 1001
            await websocket.close(code=code)
            return
        await websocket.send_json(item.frame(connection.next_seq()))


async def _read(websocket: WebSocket, desk: Desk, connection: Connection) -> None:
    while True:
        text = await websocket.receive_text()
        command = parse_command(_command_text(text))
        desk.hub.send(connection, await execute(desk, connection.operator, command))


def _command_text(frame: str) -> str:
    """A plain line, or the `command` of a JSON object (what a console may prefer to send)."""
    stripped = frame.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            return frame
        if isinstance(data, dict) and isinstance(data.get("command"), str):
            return str(data["command"])
    return frame


def _closed(error: BaseException) -> bool:
    return isinstance(error, WebSocketDisconnect | RuntimeError)
