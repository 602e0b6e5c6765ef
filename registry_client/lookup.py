"""Who is on the network: subscriber sources (a registry over HTTP, a static file) and a key cache.

Every inbound message costs a key lookup, so `KeyStore` caches answers (bounded by the key's own
`valid_until`), caches misses briefly, and lets concurrent requests for one key share one lookup.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import yaml

from registry_client.errors import KeyNotSubscribed, LookupFailed, UnknownKey
from registry_client.subscribers import (
    LookupQuery,
    Subscriber,
    SubscriberStatus,
    SubscriberType,
    parse_subscribers,
)

__all__ = [
    "ChainedSource",
    "HttpRegistry",
    "KeyStore",
    "LookupQuery",
    "StaticRegistry",
    "Subscriber",
    "SubscriberSource",
    "SubscriberStatus",
    "SubscriberType",
    "parse_subscribers",
]

_T = TypeVar("_T")


class SubscriberSource(Protocol):
    """Anything that answers lookups: a registry over HTTP, a static file, a chain of them."""

    async def lookup(self, query: LookupQuery) -> list[Subscriber]: ...


class HttpRegistry:
    """`POST {url}/lookup`; answers are filtered by the query too, since registries ignore unknown filters."""

    def __init__(
        self, url: str, client: httpx.AsyncClient, *, timeout: float = 5, auth: httpx.Auth | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._client = client
        self._timeout = timeout
        self._auth = auth

    async def lookup(self, query: LookupQuery) -> list[Subscriber]:
        body = json.dumps(query.to_payload(), separators=(",", ":"), ensure_ascii=False).encode()
        endpoint = f"{self.url}/lookup"
        try:
            response = await self._client.post(
                endpoint,
                content=body,
                headers={"Content-Type": "application/json"},
                timeout=self._timeout,
                auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise LookupFailed(f"registry lookup at {endpoint} failed: {exc!r}") from None
        if not response.is_success:
            raise LookupFailed(
                f"registry lookup at {endpoint} answered HTTP {response.status_code}: {response.text[:200]}"
            )
        try:
            payload = response.json()
        except ValueError:
            raise LookupFailed(f"registry lookup at {endpoint} answered non-JSON") from None
        return [subscriber for subscriber in parse_subscribers(payload) if query.matches(subscriber)]


class StaticRegistry:
    """A fixed subscriber list, for networks on one machine and for tests."""

    def __init__(self, subscribers: Iterable[Subscriber]) -> None:
        self.subscribers = list(subscribers)

    @classmethod
    def from_file(cls, path: str | Path) -> StaticRegistry:
        """A JSON or YAML list (or `{subscribers: [...]}`); an entry without a status counts as SUBSCRIBED,
        since the operator who wrote the file vouches for it."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            raise LookupFailed(f"cannot read subscriber file {path}: {exc}") from None
        return cls(parse_subscribers(data, default_status=SubscriberStatus.SUBSCRIBED))

    async def lookup(self, query: LookupQuery) -> list[Subscriber]:
        return [subscriber for subscriber in self.subscribers if query.matches(subscriber)]


class ChainedSource:
    """Asks each source in turn and returns the first non-empty answer (e.g. a local file, then a registry).

    When a source failed and none found anything, that is LookupFailed, not "unknown".
    """

    def __init__(self, sources: Sequence[SubscriberSource]) -> None:
        self.sources = list(sources)

    async def lookup(self, query: LookupQuery) -> list[Subscriber]:
        failure: LookupFailed | None = None
        for source in self.sources:
            try:
                found = await source.lookup(query)
            except LookupFailed as exc:
                failure = exc
                continue
            if found:
                return found
        if failure is not None:
            raise LookupFailed(f"no subscriber source answered: {failure}")
        return []


@dataclass(frozen=True)
class _CachedKey:
    subscriber: Subscriber | None
    fetched_at: float
    expires_at: float


def _utcnow() -> datetime:
    return datetime.now(UTC)


class KeyStore:
    """Subscribers' keys, cached until min(valid_until, now + ttl); misses are cached for `negative_ttl`.

    `refresh=True` skips the cache unless the entry was fetched less than `min_refresh_interval` ago, so
    requests signed with unknown keys cost at most one registry lookup per key per interval.
    `clock` (monotonic seconds) ages cache entries; `utcnow` judges keys' validity windows.
    """

    def __init__(
        self,
        source: SubscriberSource,
        *,
        ttl: float = 3600,
        negative_ttl: float = 10,
        find_ttl: float = 10,
        max_entries: int = 10_000,
        min_refresh_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        utcnow: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.source = source
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._find_ttl = find_ttl
        self._max_entries = max_entries
        self._min_refresh = min_refresh_interval
        self._clock = clock
        self._utcnow = utcnow
        self._keys: OrderedDict[tuple[str, str], _CachedKey] = OrderedDict()
        self._finds: dict[tuple[SubscriberType, str], tuple[float, list[Subscriber]]] = {}
        self._inflight: dict[tuple[str, ...], asyncio.Future[Any]] = {}

    async def get(self, subscriber_id: str, unique_key_id: str, *, refresh: bool = False) -> Subscriber:
        """The usable registry entry for this key; UnknownKey or KeyNotSubscribed otherwise."""
        key = (subscriber_id, unique_key_id)
        cached = self._keys.get(key)
        moment = self._clock()
        if (
            cached is None
            or cached.expires_at <= moment
            or (refresh and moment - cached.fetched_at >= self._min_refresh)
        ):
            cached = await self._shared(("key", *key), lambda: self._fetch_key(subscriber_id, unique_key_id))
        else:
            self._keys.move_to_end(key)
        if cached.subscriber is None:
            raise UnknownKey(f"the registry has no key {unique_key_id!r} for {subscriber_id!r}")
        reason = cached.subscriber.unusable_reason(self._utcnow())
        if reason is not None:
            raise KeyNotSubscribed(f"{subscriber_id}|{unique_key_id}: {reason}")
        return cached.subscriber

    async def _fetch_key(self, subscriber_id: str, unique_key_id: str) -> _CachedKey:
        query = LookupQuery(subscriber_id=subscriber_id, unique_key_id=unique_key_id)
        found = [subscriber for subscriber in await self.source.lookup(query) if query.matches(subscriber)]
        now = self._utcnow()
        usable = [subscriber for subscriber in found if subscriber.is_usable(now)]
        lifetime = self._negative_ttl
        if usable:
            chosen: Subscriber | None = usable[0]
            lifetime = self._ttl
            if usable[0].valid_until is not None:
                lifetime = min(lifetime, (usable[0].valid_until - now).total_seconds())
        else:
            # Known but unusable keys are re-checked as soon as misses are, so a fresh SUBSCRIBED shows up.
            chosen = found[0] if found else None
        moment = self._clock()
        cached = _CachedKey(chosen, fetched_at=moment, expires_at=moment + max(lifetime, 0.0))
        self._store((subscriber_id, unique_key_id), cached)
        return cached

    def _store(self, key: tuple[str, str], cached: _CachedKey) -> None:
        self._keys[key] = cached
        self._keys.move_to_end(key)
        if len(self._keys) <= self._max_entries:
            return
        moment = self._clock()
        for stale in [k for k, entry in self._keys.items() if entry.expires_at <= moment]:
            del self._keys[stale]
        while len(self._keys) > self._max_entries:
            self._keys.popitem(last=False)

    async def find(self, type: SubscriberType, domain: str) -> list[Subscriber]:
        """Usable subscribers of this type in this domain (e.g. every BPP a search goes to)."""
        cached = self._finds.get((type, domain))
        if cached is not None and cached[0] > self._clock():
            found = cached[1]
        else:
            found = await self._shared(("find", type.value, domain), lambda: self._fetch_find(type, domain))
        now = self._utcnow()
        return [subscriber for subscriber in found if subscriber.is_usable(now)]

    async def _fetch_find(self, type: SubscriberType, domain: str) -> list[Subscriber]:
        query = LookupQuery(type=type, domain=domain)
        found = [subscriber for subscriber in await self.source.lookup(query) if query.matches(subscriber)]
        self._finds[(type, domain)] = (self._clock() + self._find_ttl, found)
        return found

    def invalidate(self, subscriber_id: str | None = None) -> None:
        """Forget cached keys (all, or one subscriber's) so the next `get` asks the source again."""
        if subscriber_id is None:
            self._keys.clear()
        else:
            for key in [key for key in self._keys if key[0] == subscriber_id]:
                del self._keys[key]
        self._finds.clear()

    async def _shared(self, key: tuple[str, ...], fetch: Callable[[], Awaitable[_T]]) -> _T:
        """One lookup per key at a time: concurrent callers await the same task, and a caller that is
        cancelled does not cancel it for the others."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(fetch())
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        result: _T = await asyncio.shield(task)
        return result

    def _forget(self, key: tuple[str, ...], task: asyncio.Future[Any]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # retrieved, so a failure nobody awaited is not reported as "never retrieved"
