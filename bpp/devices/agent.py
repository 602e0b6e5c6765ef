"""A device agent: runs beside (or inside) one device, anywhere that can reach NATS.

It announces the device, reads the device's commands from its own durable consumer (so commands sent
while it was offline arrive when it is back), drives the device through a `DeviceAdapter`, answers each
command RECEIVED → STARTED → COMPLETED (or OPTED_OUT, PARTIAL, REJECTED, EXPIRED, CANCELLED,
SUPERSEDED) and reports telemetry. A command's JetStream message is acked only once its final status is
published; until then the agent keeps it in progress, and a redelivery is recognised, not re-applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from nats.aio.msg import Msg

from bpp.devices.adapters import DeviceAdapter, Outcome
from bpp.devices.connection import BusConnection, BusCredentials, translate
from bpp.devices.consumer import PullLoop
from bpp.devices.errors import DeviceBusError
from bpp.devices.ledger import CommandLedger
from bpp.devices.streams import StreamLayout
from bpp.devices.tasks import cancel_and_wait, unless_stopped
from participant.db import utcnow
from schemas.devices import Ack, AckStatus, Command, CommandKind, DeviceMessageError, Telemetry

log = logging.getLogger(__name__)

MSG_ID = "Nats-Msg-Id"


@dataclass
class _Running:
    """A command between RECEIVED and its final status, with the latest delivery of its message."""

    command: Command
    message: Msg
    task: asyncio.Task[None] | None = None
    touched: bool = False
    concluding: bool = False
    outcome: Outcome | None = None


@dataclass
class AgentTimings:
    """Seconds. `ack_wait` is the command consumer's; progress is reported well within it."""

    telemetry_interval: float = 60.0
    announce_interval: float = 300.0
    ack_wait: float = 30.0
    fetch_timeout: float = 30.0
    retry_wait: float = 1.0
    publish_timeout: float = 5.0


@dataclass
class AgentCounters:
    acks: Counter[AckStatus] = field(default_factory=Counter)
    commands: int = 0
    redeliveries: int = 0
    ack_retries: int = 0
    telemetry: int = 0
    announcements: int = 0


class DeviceAgent:
    """Connects one device to its aggregator over NATS; `connection` lets many agents share one client."""

    def __init__(
        self,
        nats_url: str | Sequence[str],
        aggregator: str,
        device: DeviceAdapter,
        credentials: BusCredentials | None = None,
        *,
        connection: BusConnection | None = None,
        timings: AgentTimings | None = None,
        ledger: CommandLedger | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.device = device
        self.device_id = device.profile.device_id
        self.layout = StreamLayout(aggregator)
        self.subjects = self.layout.subjects
        self.timings = timings or AgentTimings()
        self.ledger = ledger or CommandLedger()
        self.clock = clock
        self.counters = AgentCounters()
        self._owns_connection = connection is None
        self.connection = connection or BusConnection(
            nats_url,
            name=f"degflex-device-{self.device_id}",
            credentials=credentials,
            inbox_prefix=self.subjects.inbox(self.device_id),
            request_timeout=self.timings.publish_timeout,
        )
        self.ready = asyncio.Event()
        """Set once the device has announced itself and its command consumer is bound."""
        self._running: dict[str, _Running] = {}
        self._device_lock = asyncio.Lock()
        self._outgoing: asyncio.Queue[tuple[Ack, asyncio.Future[None]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._commands = PullLoop(
            self.connection,
            stream=self.layout.command_stream,
            config=self.layout.device_consumer_config(self.device_id, ack_wait=self.timings.ack_wait),
            handler=self._on_message,
            fetch_timeout=self.timings.fetch_timeout,
            retry_wait=self.timings.retry_wait,
        )

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect (waiting for NATS as long as it takes) and start the agent's loops."""
        await self.connection.connect()
        announced = asyncio.Event()
        for name, coroutine in (
            ("acks", self._send_acks()),
            ("commands", self._commands.run()),
            ("announce", self._announce_loop(announced)),
            ("telemetry", self._telemetry_loop()),
            ("progress", self._progress_loop()),
            ("ready", self._mark_ready(announced)),
        ):
            self._tasks.append(asyncio.create_task(coroutine, name=f"agent:{self.device_id}:{name}"))

    async def stop(self) -> None:
        """Stop without answering: unfinished commands are handed back (nak) for the next start.

        The pull subscription goes first, so the server forgets our pending pull request and does not
        redeliver the handed-back commands to a connection that is about to close.
        """
        await self._commands.close()
        unfinished = [entry for entry in self._running.values() if not entry.concluding]
        running = [entry.task for entry in self._running.values() if entry.task is not None]
        await cancel_and_wait([*self._tasks, *running])
        self._tasks.clear()
        with contextlib.suppress(Exception):
            for entry in unfinished:
                await entry.message.nak()
            if unfinished:
                await self.connection.client.flush(timeout=self.timings.publish_timeout)  # type: ignore[arg-type]
        if self._owns_connection:
            await self.connection.close()

    async def run(self, stop: asyncio.Event) -> None:
        if not await unless_stopped(self.start(), stop):
            await self.stop()
            return
        try:
            await stop.wait()
        finally:
            await self.stop()

    async def _mark_ready(self, announced: asyncio.Event) -> None:
        await announced.wait()
        await self._commands.bound.wait()
        self.ready.set()
        log.debug("device agent ready", extra={"device_id": self.device_id})

    # -- commands ------------------------------------------------------------------------------------

    async def _on_message(self, message: Msg) -> None:
        try:
            command = Command.from_json(message.data)
        except DeviceMessageError as exc:
            log.error("unreadable command dropped", extra={"device_id": self.device_id, "error": str(exc)})
            await message.term()
            return
        if self.ledger.finished(command.command_id) is not None:
            self.counters.redeliveries += 1
            await self._ack_message(message)
            return
        running = self._running.get(command.command_id)
        if running is not None:
            self.counters.redeliveries += 1
            running.message = message
            return
        self.counters.commands += 1
        entry = _Running(command, message)
        self._say(command, AckStatus.RECEIVED)
        if command.device_id != self.device_id:
            await self._conclude(entry, AckStatus.REJECTED, reason=f"addressed to {command.device_id}")
        elif command.kind is CommandKind.RELEASE:
            await self._release_order(command.order_id)
            await self._conclude(entry, AckStatus.COMPLETED)
        elif command.end <= self.clock():
            await self._conclude(entry, AckStatus.EXPIRED, reason="received after its window ended")
        elif (refusal := self.device.refusal(command)) is not None:
            await self._conclude(entry, AckStatus.REJECTED, reason=refusal)
        else:
            await self._supersede(command)
            self._running[command.command_id] = entry
            entry.task = asyncio.create_task(self._execute(entry), name=f"command:{command.command_id}")

    async def _execute(self, entry: _Running) -> None:
        command = entry.command
        await self._sleep_until(command.start)
        outcome: tuple[AckStatus, str | None, float | None]
        async with self._device_lock:
            try:
                if self.clock() >= command.end:
                    outcome = (AckStatus.EXPIRED, "window ended before the device could start", None)
                elif self.device.opts_out(command):
                    outcome = (AckStatus.OPTED_OUT, "the customer overrode the event", None)
                else:
                    entry.touched = True
                    await self.device.apply(command)
                    self._say(command, AckStatus.STARTED)
                    await self._publish_telemetry()
                    await self._sleep_until(command.end)
                    result = await self.device.release()
                    entry.touched = False
                    outcome = (result.status, result.reason, result.delivered_kw)
            except asyncio.CancelledError:
                if entry.touched:
                    entry.outcome = await self.device.release()
                    entry.touched = False
                raise
            except Exception as exc:
                log.exception("device failed a command", extra={"device_id": self.device_id})
                if entry.touched:
                    with contextlib.suppress(Exception):
                        await self.device.release()
                # Failing before it started is a refusal; failing half-way is a partial delivery.
                started = self.ledger.said(command.command_id, AckStatus.STARTED)
                outcome = (
                    AckStatus.PARTIAL if started else AckStatus.REJECTED,
                    f"device error: {exc}"[:500],
                    None,
                )
        await self._publish_telemetry()
        status, reason, delivered = outcome
        await self._conclude(entry, status, reason=reason, delivered_kw=delivered)

    async def _supersede(self, command: Command) -> None:
        """A new command whose window overlaps a running one replaces it (IEEE 2030.5 SUPERSEDED)."""
        for entry in list(self._running.values()):
            other = entry.command
            if other.start < command.end and command.start < other.end:
                await self._interrupt(entry, AckStatus.SUPERSEDED, f"superseded by {command.command_id}")

    async def _release_order(self, order_id: str) -> None:
        for entry in list(self._running.values()):
            if entry.command.order_id == order_id:
                await self._interrupt(entry, AckStatus.CANCELLED, "released by the aggregator")

    async def _interrupt(self, entry: _Running, status: AckStatus, reason: str) -> None:
        if entry.concluding or entry.task is None:
            return
        await cancel_and_wait([entry.task], patience=10.0)  # time for the device to let go
        if entry.concluding:
            return
        delivered = entry.outcome.delivered_kw if entry.outcome is not None else None
        await self._conclude(entry, status, reason=reason, delivered_kw=delivered)

    async def _conclude(
        self,
        entry: _Running,
        status: AckStatus,
        *,
        reason: str | None = None,
        delivered_kw: float | None = None,
    ) -> None:
        """Publish the final status, then ack the command's message (never the other way round)."""
        entry.concluding = True
        await self._say(entry.command, status, reason=reason, delivered_kw=delivered_kw)
        self._running.pop(entry.command.command_id, None)
        await self._ack_message(entry.message)

    async def _ack_message(self, message: Msg) -> None:
        try:
            await message.ack_sync(timeout=self.timings.publish_timeout)
        except Exception as exc:  # noqa: BLE001 - redelivery is recognised by the ledger
            log.info("command ack not confirmed", extra={"device_id": self.device_id, "error": repr(exc)})

    async def _sleep_until(self, moment: datetime) -> None:
        delay = (moment - self.clock()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)

    # -- acks ----------------------------------------------------------------------------------------

    def _say(
        self,
        command: Command,
        status: AckStatus,
        *,
        reason: str | None = None,
        delivered_kw: float | None = None,
    ) -> asyncio.Future[None]:
        """Queue an ack unless this (command_id, status) was said before; the future resolves once stored."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.ledger.claim(command.command_id, status):
            future.set_result(None)
            return future
        ack = Ack(
            command_id=command.command_id,
            device_id=self.device_id,
            status=status,
            at=self.clock(),
            reason=reason,
            delivered_kw=delivered_kw,
        )
        self._outgoing.put_nowait((ack, future))
        return future

    async def _send_acks(self) -> None:
        """One sender, in order, retrying each ack until JetStream has stored it."""
        while True:
            ack, future = await self._outgoing.get()
            attempts = 0
            while True:
                try:
                    await self._publish_ack(ack)
                    break
                except DeviceBusError as exc:
                    attempts += 1
                    self.counters.ack_retries += 1
                    level = logging.WARNING if attempts == 1 else logging.DEBUG
                    log.log(level, "ack not sent yet", extra={"device_id": self.device_id, "error": str(exc)})
                    await asyncio.sleep(self.timings.retry_wait)
            self.counters.acks[ack.status] += 1
            self.ledger.record(ack.command_id, ack.status)
            if not future.done():
                future.set_result(None)

    async def _publish_ack(self, ack: Ack) -> None:
        doing = f"publishing {ack.status} for {ack.command_id}"
        self.connection.require_connected(doing)
        try:
            await self.connection.js.publish(
                self.subjects.ack(self.device_id),
                ack.to_json(),
                timeout=self.timings.publish_timeout,
                stream=self.layout.event_stream,
                headers={MSG_ID: f"{ack.command_id}.{ack.status}"},
            )
        except Exception as exc:
            raise translate(exc, doing) from exc

    # -- announcements, telemetry, progress ----------------------------------------------------------

    async def _announce_loop(self, announced: asyncio.Event) -> None:
        last_problem: str | None = None
        while True:
            try:
                await self.announce()
                announced.set()
                last_problem = None
                await asyncio.sleep(self.timings.announce_interval)
            except DeviceBusError as exc:
                level = logging.DEBUG if str(exc) == last_problem else logging.WARNING
                last_problem = str(exc)
                log.log(
                    level, "announcement not sent", extra={"device_id": self.device_id, "error": str(exc)}
                )
                await asyncio.sleep(self.timings.retry_wait)

    async def announce(self) -> None:
        reading = await self.device.read()
        message = self.device.profile.announcement(at=self.clock(), soc=reading.soc)
        doing = f"announcing {self.device_id}"
        self.connection.require_connected(doing)
        try:
            await self.connection.js.publish(
                self.subjects.announce(self.device_id),
                message.to_json(),
                timeout=self.timings.publish_timeout,
                stream=self.layout.event_stream,
            )
        except Exception as exc:
            raise translate(exc, doing) from exc
        self.counters.announcements += 1

    async def _telemetry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.timings.telemetry_interval)
            await self._publish_telemetry()

    async def _publish_telemetry(self) -> None:
        """Fire and forget: a lost reading is replaced by the next one; skipped while disconnected."""
        if not self.connection.is_connected:
            return
        reading = await self.device.read()
        telemetry = Telemetry(
            device_id=self.device_id,
            ts=self.clock(),
            power_kw=reading.power_kw,
            soc=reading.soc,
            state=reading.state,
        )
        try:
            await self.connection.client.publish(self.subjects.telemetry(self.device_id), telemetry.to_json())
        except Exception as exc:  # noqa: BLE001 - the next reading will do
            log.debug("telemetry dropped", extra={"device_id": self.device_id, "error": repr(exc)})
            return
        self.counters.telemetry += 1

    async def _progress_loop(self) -> None:
        """Tell JetStream that running commands are still being worked on, so they are not redelivered."""
        interval = max(self.timings.ack_wait / 3, 0.1)
        while True:
            await asyncio.sleep(interval)
            for entry in list(self._running.values()):
                with contextlib.suppress(Exception):
                    await entry.message.in_progress()
