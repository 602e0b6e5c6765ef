"""One NATS connection with JetStream that reconnects forever, shared by the bus, agents and simulator.

nats-py reports trouble through callbacks; here it becomes our exceptions, a log line, and a signal
that long-running pull loops wait on so they re-issue their pull request right after a reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from bpp.devices.errors import BusPermissionDenied, BusRejected, BusUnavailable, CredentialError

log = logging.getLogger(__name__)

PERMISSION_VIOLATION = "permissions violation"
AUTHORIZATION_VIOLATION = "authorization violation"


def is_authorization_error(exc: BaseException | None) -> bool:
    """nats-py reports a refused login either as AuthorizationError or as a plain error with its text."""
    return isinstance(exc, nats.errors.AuthorizationError) or (
        isinstance(exc, nats.errors.Error) and AUTHORIZATION_VIOLATION in str(exc).lower()
    )


@dataclass(frozen=True)
class BusCredentials:
    """How one NATS user proves who it is: an nkey seed (preferred), user and password, or a .creds file."""

    nkey_seed_file: Path | None = None
    nkey_seed: str | None = field(default=None, repr=False)
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    creds_file: Path | None = None

    def __post_init__(self) -> None:
        ways = [
            self.nkey_seed_file is not None or self.nkey_seed is not None,
            self.user is not None or self.password is not None,
            self.creds_file is not None,
        ]
        if sum(ways) > 1:
            raise CredentialError("give one of: an nkey seed, a user and password, or a .creds file")
        if self.nkey_seed_file is not None and self.nkey_seed is not None:
            raise CredentialError("give the nkey seed or its file, not both")
        if (self.user is None) != (self.password is None):
            raise CredentialError("give a user and a password together")

    def connect_options(self) -> dict[str, Any]:
        """Keyword arguments for nats-py's `connect`."""
        if self.nkey_seed_file is not None:
            if not self.nkey_seed_file.is_file():
                raise CredentialError(f"nkey seed file {self.nkey_seed_file} does not exist")
            return {"nkeys_seed": str(self.nkey_seed_file)}
        if self.nkey_seed is not None:
            return {"nkeys_seed_str": self.nkey_seed}
        if self.creds_file is not None:
            if not self.creds_file.is_file():
                raise CredentialError(f"credentials file {self.creds_file} does not exist")
            return {"user_credentials": str(self.creds_file)}
        if self.user is not None:
            return {"user": self.user, "password": self.password}
        return {}


def translate(exc: BaseException, doing: str) -> Exception:
    """A nats-py exception as ours, with what we were doing; anything else is returned unchanged."""
    if isinstance(exc, nats.js.errors.APIError):
        return BusRejected(
            f"{doing}: JetStream refused ({exc.description or exc})", code=exc.code, err_code=exc.err_code
        )
    if is_authorization_error(exc):
        return BusPermissionDenied(f"{doing}: the server refused these credentials")
    if isinstance(exc, nats.js.errors.NoStreamResponseError | nats.errors.NoRespondersError):
        return BusUnavailable(f"{doing}: no JetStream stream answered (are the streams set up?)")
    if isinstance(exc, TimeoutError | nats.errors.Error | OSError):
        return BusUnavailable(f"{doing}: {type(exc).__name__} {exc}".rstrip())
    if isinstance(exc, Exception):
        return exc
    raise exc


class BusConnection:
    """A named NATS client: connects (retrying as long as asked), reconnects forever, never raises nats."""

    def __init__(
        self,
        servers: str | Sequence[str],
        *,
        name: str,
        credentials: BusCredentials | None = None,
        inbox_prefix: str | None = None,
        reconnect_wait: float = 1.0,
        connect_timeout: float = 2.0,
        request_timeout: float = 5.0,
        on_permission_error: Callable[[str], None] | None = None,
    ) -> None:
        self.servers = [servers] if isinstance(servers, str) else list(servers)
        self.name = name
        self.credentials = credentials or BusCredentials()
        self.inbox_prefix = inbox_prefix
        self.reconnect_wait = reconnect_wait
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.on_permission_error = on_permission_error
        self.permission_errors: list[str] = []
        self.last_error: BaseException | None = None
        self.credentials_refused = False
        self._trouble: str | None = None  # the connection trouble last logged, said once until connected
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._reconnected = asyncio.Event()
        self._closing = False

    # -- state ---------------------------------------------------------------------------------------

    @property
    def client(self) -> Client:
        if self._client is None:
            raise BusUnavailable(f"{self.name}: not connected")
        return self._client

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise BusUnavailable(f"{self.name}: not connected")
        return self._js

    @property
    def is_connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    def require_connected(self, doing: str) -> None:
        """Fail fast while disconnected: the caller (an outbox, an agent's ack queue) retries later."""
        if not self.is_connected:
            raise BusUnavailable(f"{doing}: {self.name} is disconnected from NATS")

    def reconnect_signal(self) -> asyncio.Event:
        """Set at the next reconnect; pull loops race it against their fetch to re-issue the pull."""
        return self._reconnected

    # -- connecting ----------------------------------------------------------------------------------

    async def connect(self, *, timeout: float | None = None) -> None:
        """Connect, trying again until `timeout` (None: until connected or cancelled)."""
        if self._client is not None:
            return
        options = self.credentials.connect_options()
        if self.inbox_prefix is not None:
            options["inbox_prefix"] = self.inbox_prefix
        client = Client()
        try:
            await asyncio.wait_for(
                client.connect(
                    servers=self.servers,
                    name=self.name,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=self.reconnect_wait,  # type: ignore[arg-type]  # seconds, float ok
                    connect_timeout=self.connect_timeout,  # type: ignore[arg-type]
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    **options,
                ),
                timeout,
            )
        except BaseException as exc:
            await self._abandon(client)
            if isinstance(exc, TimeoutError):
                raise self._connect_failure() from None
            raise translate(exc, f"{self.name}: connecting to {', '.join(self.servers)}") from exc
        self._client = client
        self._js = client.jetstream(timeout=self.request_timeout)
        self.credentials_refused = False
        self._trouble = None
        server = client.connected_url.netloc if client.connected_url else None
        log.info("connected to NATS", extra={"connection": self.name, "server": server})

    def _connect_failure(self) -> Exception:
        where = ", ".join(self.servers)
        if self.credentials_refused:
            return BusPermissionDenied(f"{self.name}: {where} refused these credentials")
        return BusUnavailable(f"{self.name}: cannot reach NATS at {where} ({self.last_error!r})")

    @staticmethod
    async def _abandon(client: Client) -> None:
        try:
            await client.close()
        except Exception:  # noqa: BLE001 - a half-open client may fail to close; nothing to save
            pass

    async def close(self) -> None:
        """Drain nothing, close now: unacked JetStream messages are redelivered to the next process."""
        self._closing = True
        client, self._client, self._js = self._client, None, None
        if client is not None and not client.is_closed:
            await client.close()

    # -- callbacks -----------------------------------------------------------------------------------

    async def _on_error(self, exc: Exception) -> None:
        self.last_error = exc
        text = str(exc)
        if PERMISSION_VIOLATION in text:
            self.permission_errors.append(text)
            del self.permission_errors[:-100]
            log.error("NATS refused a subject", extra={"connection": self.name, "error": text})
            if self.on_permission_error is not None:
                self.on_permission_error(text)
            return
        if is_authorization_error(exc):
            # Said once until the connection is back: the client retries every reconnect_wait.
            level = logging.DEBUG if self.credentials_refused else logging.ERROR
            self.credentials_refused = True
            log.log(level, "NATS refused the credentials", extra={"connection": self.name})
            return
        trouble = repr(exc)
        level = logging.DEBUG if trouble == self._trouble else logging.WARNING
        self._trouble = trouble
        log.log(level, "NATS connection trouble", extra={"connection": self.name, "error": trouble})

    async def _on_disconnected(self) -> None:
        if self._closing:
            return
        log.warning("disconnected from NATS", extra={"connection": self.name})

    async def _on_reconnected(self) -> None:
        url = self._client.connected_url.netloc if self._client and self._client.connected_url else None
        log.info("reconnected to NATS", extra={"connection": self.name, "server": url})
        self.credentials_refused = False
        self._trouble = None
        signal, self._reconnected = self._reconnected, asyncio.Event()
        signal.set()
