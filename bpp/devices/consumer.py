"""A durable pull consumer read in a loop that survives disconnects, server restarts and handler errors.

Used on both sides: each device agent reads its commands, the BPP reads device events. The consumer is
created (or updated) through JetStream's filtered create subject, the one a device is allowed to use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig

from bpp.devices.connection import BusConnection, translate
from bpp.devices.errors import BusPermissionDenied, BusRejected, BusUnavailable

log = logging.getLogger(__name__)

MessageHandler = Callable[[Msg], Awaitable[None]]
BatchHandler = Callable[[list[Msg]], Awaitable[None]]


def _swallow(future: asyncio.Future[list[Msg]]) -> None:
    """An abandoned fetch may end in an error (nats-py turns its cancellation into one): nobody waits."""
    if not future.cancelled():
        future.exception()


class PullLoop:
    """Binds to (creating if needed) a durable pull consumer and hands each message to `handler`.

    The handler owns acking. An exception from it is logged and the message is left unacked, so
    JetStream redelivers it after the consumer's ack wait; the loop itself only ends on `stop()`.
    A `batch_handler` instead gets every message of a fetch at once (one database transaction for a
    whole batch of device events, say).
    """

    def __init__(
        self,
        connection: BusConnection,
        *,
        stream: str,
        config: ConsumerConfig,
        handler: MessageHandler | None = None,
        batch_handler: BatchHandler | None = None,
        batch: int = 1,
        fetch_timeout: float = 30.0,
        retry_wait: float = 1.0,
    ) -> None:
        assert config.durable_name is not None
        assert (handler is None) != (batch_handler is None), "give a handler or a batch handler"
        self.connection = connection
        self.stream = stream
        self.config = config
        self.consumer = config.durable_name
        self.handler = handler
        self.batch_handler = batch_handler
        self.batch = batch
        self.fetch_timeout = fetch_timeout
        self.retry_wait = retry_wait
        self.bound = asyncio.Event()
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._in_hand: list[Msg] = []
        self._last_problem: str | None = None
        self._stopping = False

    async def run(self) -> None:
        while not self._stopping:
            try:
                if self._subscription is None:
                    self._subscription = await self._bind()
                    self._last_problem = None
                    self.bound.set()
                messages = await self._fetch(self._subscription)
            except BusUnavailable as exc:
                log.debug("pull paused", extra={"consumer": self.consumer, "error": str(exc)})
                await self._wait_for_connection()
                continue
            except (BusRejected, BusPermissionDenied) as exc:
                # Said once per distinct problem: thousands of agents retry every second.
                level = logging.DEBUG if str(exc) == self._last_problem else logging.WARNING
                self._last_problem = str(exc)
                log.log(
                    level, "consumer unusable, retrying", extra={"consumer": self.consumer, "error": str(exc)}
                )
                await self._unbind()
                await asyncio.sleep(self.retry_wait)
                continue
            self._in_hand = list(messages)
            if self.batch_handler is not None and self._in_hand:
                await self._deliver_batch(self.batch_handler, self._in_hand)
                self._in_hand = []
            while self._in_hand:
                await self._deliver(self._in_hand[0])
                if self._in_hand:
                    self._in_hand.pop(0)

    def stop(self) -> None:
        self._stopping = True

    async def close(self) -> None:
        """Stop, drop the subscription (the server then drops our pending pull requests) and hand back
        what was fetched but not yet handled, so the next consumer gets it at once, not after ack_wait."""
        self.stop()
        await self._unbind()
        in_hand, self._in_hand = self._in_hand, []
        with contextlib.suppress(Exception):
            for message in in_hand:
                await message.nak()
            if in_hand:
                await self.connection.client.flush()

    async def _bind(self) -> JetStreamContext.PullSubscription:
        self.connection.require_connected(f"binding consumer {self.consumer}")
        js = self.connection.js
        doing = f"binding consumer {self.consumer} on {self.stream}"
        try:
            # Create-or-update: the same config again is a no-op on the server.
            await js.add_consumer(self.stream, config=self.config)
            return await js.pull_subscribe_bind(durable=self.consumer, stream=self.stream)
        except Exception as exc:
            raise translate(exc, doing) from exc

    async def _unbind(self) -> None:
        subscription, self._subscription = self._subscription, None
        self.bound.clear()
        if subscription is not None:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _fetch(self, subscription: JetStreamContext.PullSubscription) -> list[Msg]:
        """One pull, cut short by a reconnect (the server forgot the pending pull request)."""
        self.connection.require_connected(f"pulling from {self.consumer}")
        signal = self.connection.reconnect_signal()
        fetch = asyncio.ensure_future(subscription.fetch(self.batch, timeout=self.fetch_timeout))
        reconnected = asyncio.ensure_future(signal.wait())
        try:
            await asyncio.wait({fetch, reconnected}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            reconnected.cancel()
            if not fetch.done():
                fetch.cancel()
                fetch.add_done_callback(_swallow)
        if not fetch.done() or fetch.cancelled():
            # Cut short by a reconnect: the cancelled fetch ends later (its result is swallowed).
            return []
        try:
            return fetch.result()
        except (TimeoutError, nats.js.errors.FetchTimeoutError):
            return []
        except nats.errors.Error as exc:
            # Includes JetStream API errors: a consumer deleted under us (a wiped server) is bound again.
            raise translate(exc, f"pulling from {self.consumer}") from exc

    async def _deliver_batch(self, handler: BatchHandler, messages: list[Msg]) -> None:
        try:
            await handler(list(messages))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "batch handler failed; the messages will be redelivered", extra={"consumer": self.consumer}
            )

    async def _deliver(self, message: Msg) -> None:
        assert self.handler is not None
        try:
            await self.handler(message)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "handler failed; the message will be redelivered", extra={"consumer": self.consumer}
            )

    async def _wait_for_connection(self) -> None:
        signal = self.connection.reconnect_signal()
        if self.connection.is_connected:
            await asyncio.sleep(self.retry_wait)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(signal.wait(), timeout=max(self.retry_wait, 5.0))
