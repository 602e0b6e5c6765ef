"""The aggregator's side of the device bus: set up the streams, publish commands, hear device events.

Commands are published with `Nats-Msg-Id` = command_id, so a caller that is unsure whether a publish
landed (an outbox after a crash or a timeout) publishes again and JetStream stores it once, as long as
the retry falls inside the commands stream's duplicate window (`StreamLimits.command_duplicate_window`,
one day by default).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import NamedTuple, Self

from nats.aio.msg import Msg

from bpp.devices.connection import BusConnection, BusCredentials, translate
from bpp.devices.consumer import PullLoop
from bpp.devices.events import DeviceEvent, EventBatchHandler, EventHandler, decode_event
from bpp.devices.streams import StreamChange, StreamLayout, StreamLimits, ensure_stream
from bpp.devices.tasks import cancel_and_wait
from schemas.devices import Command, DeviceMessageError, InvalidSubject, Subjects

log = logging.getLogger(__name__)

MSG_ID = "Nats-Msg-Id"


class PublishResult(NamedTuple):
    seq: int
    duplicate: bool


def nak_delay(deliveries: int, *, base: float = 1.0, cap: float = 60.0) -> float:
    """Exponential backoff for a message whose handler failed `deliveries` times."""
    return float(min(cap, base * 2 ** max(0, deliveries - 1)))


class EventSubscription:
    """A running durable consumer of device events; `stop()` leaves unacked events for the next run."""

    def __init__(self, loop: PullLoop) -> None:
        self.loop = loop
        self.task = asyncio.create_task(loop.run(), name=f"device-events:{loop.consumer}")

    async def ready(self) -> None:
        """Wait until the consumer is bound (created on the server if it was not there)."""
        bound = asyncio.ensure_future(self.loop.bound.wait())
        done, _ = await asyncio.wait({bound, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            bound.cancel()
            self.task.result()
            raise RuntimeError("the event consumer stopped before it was bound")

    async def stop(self) -> None:
        await self.loop.close()
        await cancel_and_wait([self.task])


class DeviceBus:
    """One aggregator's connection to its devices (the BPP side)."""

    def __init__(
        self,
        nats_url: str | Sequence[str],
        aggregator: str,
        *,
        credentials: BusCredentials | None = None,
        limits: StreamLimits | None = None,
        name: str | None = None,
        publish_timeout: float = 5.0,
        events_consumer: str = "bpp-events",
        events_ack_wait: float = 30.0,
    ) -> None:
        self.layout = StreamLayout(aggregator, limits or StreamLimits())
        self.subjects: Subjects = self.layout.subjects
        self.connection = BusConnection(
            nats_url,
            name=name or f"degflex-bpp-{aggregator}",
            credentials=credentials,
            request_timeout=publish_timeout,
        )
        self.publish_timeout = publish_timeout
        self.events_consumer = events_consumer
        self.events_ack_wait = events_ack_wait
        self._subscriptions: list[EventSubscription] = []

    async def connect(self, *, timeout: float | None = 10.0) -> None:
        await self.connection.connect(timeout=timeout)

    async def ensure_streams(self) -> dict[str, StreamChange]:
        """Create or update the commands and events streams; safe to run at every start."""
        self.connection.require_connected("setting up device streams")
        js = self.connection.js
        changes = {}
        for config in (self.layout.command_stream_config(), self.layout.event_stream_config()):
            assert config.name is not None
            changes[config.name] = await ensure_stream(js, config)
            log.info("device stream %s", changes[config.name], extra={"stream": config.name})
        return changes

    async def publish_command(self, command: Command) -> PublishResult:
        """Store the command in JetStream (raises BusUnavailable when not sure it was stored: retry)."""
        doing = f"publishing command {command.command_id}"
        self.connection.require_connected(doing)
        try:
            ack = await self.connection.js.publish(
                self.subjects.cmd(command.device_id),
                command.to_json(),
                timeout=self.publish_timeout,
                stream=self.layout.command_stream,
                headers={MSG_ID: command.command_id},
            )
        except Exception as exc:
            raise translate(exc, doing) from exc
        return PublishResult(ack.seq, bool(ack.duplicate))

    async def subscribe_events(
        self,
        handler: EventHandler,
        *,
        batch: int = 100,
        fetch_timeout: float = 30.0,
        max_ack_pending: int = 10_000,
    ) -> EventSubscription:
        """Run `handler` on every device event, in stream order, through the durable events consumer.

        Acked after the handler returns; a handler error naks with a growing delay (redelivered
        later); a message that is not a valid event is terminated and logged, never retried.
        """
        config = self.layout.event_consumer_config(
            self.events_consumer, ack_wait=self.events_ack_wait, max_ack_pending=max_ack_pending
        )

        async def on_message(msg: Msg) -> None:
            try:
                event = decode_event(self.subjects, msg)
            except (DeviceMessageError, InvalidSubject) as exc:
                log.warning("dropping a device event", extra={"subject": msg.subject, "error": str(exc)})
                await msg.term()
                return
            await self._handle(handler, event, msg)

        loop = PullLoop(
            self.connection,
            stream=self.layout.event_stream,
            config=config,
            handler=on_message,
            batch=batch,
            fetch_timeout=fetch_timeout,
        )
        subscription = EventSubscription(loop)
        self._subscriptions.append(subscription)
        return subscription

    async def subscribe_event_batches(
        self,
        handler: EventBatchHandler,
        *,
        batch: int = 500,
        fetch_timeout: float = 30.0,
        max_ack_pending: int = 10_000,
    ) -> EventSubscription:
        """`subscribe_events`, but the handler gets every valid event of a fetch at once (stream order).

        All of them are acked after it returns, or all naked with a growing delay if it raises.
        """
        config = self.layout.event_consumer_config(
            self.events_consumer, ack_wait=self.events_ack_wait, max_ack_pending=max(max_ack_pending, batch)
        )

        async def on_messages(messages: list[Msg]) -> None:
            events: list[DeviceEvent] = []
            kept: list[Msg] = []
            for msg in messages:
                try:
                    events.append(decode_event(self.subjects, msg))
                except (DeviceMessageError, InvalidSubject) as exc:
                    log.warning("dropping a device event", extra={"subject": msg.subject, "error": str(exc)})
                    await msg.term()
                    continue
                kept.append(msg)
            if events:
                await self._handle_batch(handler, events, kept)

        loop = PullLoop(
            self.connection,
            stream=self.layout.event_stream,
            config=config,
            batch_handler=on_messages,
            batch=batch,
            fetch_timeout=fetch_timeout,
        )
        subscription = EventSubscription(loop)
        self._subscriptions.append(subscription)
        return subscription

    @staticmethod
    async def _handle_batch(handler: EventBatchHandler, events: list[DeviceEvent], msgs: list[Msg]) -> None:
        try:
            await handler(events)
        except asyncio.CancelledError:
            raise
        except Exception:
            delay = nak_delay(max(event.deliveries for event in events))
            log.exception(
                "device event batch handler failed; redelivering later",
                extra={"events": len(events), "delay_s": delay},
            )
            for msg in msgs:
                await msg.nak(delay=delay)
            return
        for msg in msgs:
            await msg.ack()

    @staticmethod
    async def _handle(handler: EventHandler, event: DeviceEvent, msg: Msg) -> None:
        try:
            await handler(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            delay = nak_delay(event.deliveries)
            log.exception(
                "device event handler failed; redelivering later",
                extra={"device_id": event.device_id, "channel": str(event.channel), "delay_s": delay},
            )
            await msg.nak(delay=delay)
            return
        await msg.ack()

    async def close(self) -> None:
        for subscription in self._subscriptions:
            await subscription.stop()
        self._subscriptions.clear()
        await self.connection.close()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
