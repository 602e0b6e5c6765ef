"""Grid alerts from NATS: grid systems publish JSON on `degflex.grid.alerts`, the desk opens events.

Optional (only with a NATS URL). The subscriber keeps trying to connect in the background, so a BAP
starts even while NATS is down; a message that is not a valid grid alert is logged and dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from pydantic import ValidationError

from bap.alerts.grid import handle_grid_alert
from bap.audit.service import Channel
from bap.desk import Desk
from bap.events.schemas import GridAlertIn
from participant.app import unit_of_work
from participant.operators import Operator, OperatorRole

log = logging.getLogger(__name__)

GRID_SYSTEM = Operator("grid-alerts", OperatorRole.OPERATOR)
"""The actor of events opened from NATS grid alerts."""

RETRY_SECONDS = 2.0


class GridAlertSubscriber:
    def __init__(self, desk: Desk, url: str, subject: str) -> None:
        self.desk = desk
        self.url = url
        self.subject = subject
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._connect(), name="bap-grid-alerts")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._client is not None and not self._client.is_closed:
            await self._client.drain()

    async def _connect(self) -> None:
        while True:
            try:
                client: Client = await nats.connect(
                    self.url,
                    name=f"degflex-bap-{self.desk.settings.subscriber_id}",
                    max_reconnect_attempts=-1,
                )
                break
            except (NatsError, OSError) as exc:
                log.warning("cannot reach NATS at %s (%s); retrying in %.0f s", self.url, exc, RETRY_SECONDS)
                await asyncio.sleep(RETRY_SECONDS)
        self._client = client
        await client.subscribe(self.subject, cb=self._received)
        await client.flush()
        self.subscribed.set()
        log.info("listening for grid alerts on %s at %s", self.subject, self.url)

    async def _received(self, msg: Msg) -> None:
        try:
            data: Any = json.loads(msg.data)
            alert = GridAlertIn.model_validate(data)
        except (ValueError, ValidationError) as exc:
            log.warning("dropping a grid alert on %s that is not valid: %s", msg.subject, exc)
            return
        try:
            async with unit_of_work(self.desk.session_factory) as session:
                event, need = await handle_grid_alert(session, self.desk, alert, GRID_SYSTEM, Channel.NATS)
        except Exception:
            log.exception("could not act on the grid alert for %s", alert.node_id)
            return
        log.info("grid alert for %s: need %s kW, event %s", alert.node_id, need, event.id if event else None)
