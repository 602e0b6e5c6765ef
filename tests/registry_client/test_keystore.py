"""KeyStore over a real HTTP registry stand-in: what is cached, for how long, and what is refused."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from registry_client.errors import KeyNotSubscribed, LookupFailed, UnknownKey
from registry_client.lookup import HttpRegistry, KeyStore, LookupQuery, SubscriberType
from tests.registry_client.conftest import FakeClock, RegistryStandIn
from tests.registry_client.factories import DOMAIN, identity, registry_entry
from tests.support.servers import free_port

BAP = identity("bap.example.com", "bap-key-1")


def keystore(
    registry: RegistryStandIn,
    client: httpx.AsyncClient,
    clock: FakeClock,
    *,
    negative_ttl: float = 10,
    find_ttl: float = 10,
    max_entries: int = 10_000,
    min_refresh_interval: float = 1.0,
) -> KeyStore:
    return KeyStore(
        HttpRegistry(registry.url, client),
        negative_ttl=negative_ttl,
        find_ttl=find_ttl,
        max_entries=max_entries,
        min_refresh_interval=min_refresh_interval,
        clock=clock.monotonic,
        utcnow=clock.utcnow,
    )


async def test_lookup_asks_with_spec_names_and_caches_the_answer(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    registry.state.entries.append(registry_entry(BAP))
    keys = keystore(registry, http_client, clock)
    first = await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    clock.advance(3599)
    second = await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    assert first == second and first.signing_public_key == BAP.signing_public_key
    assert registry.state.requests == [
        {"subscriber_id": BAP.subscriber_id, "key_id": BAP.unique_key_id, "unique_key_id": BAP.unique_key_id}
    ]
    clock.advance(2)
    await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    assert len(registry.state.requests) == 2


@pytest.mark.parametrize("spelling", ["spec", "deployed", "protocol-server"])
async def test_every_registry_spelling_is_understood(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, clock: FakeClock, spelling: str
) -> None:
    registry.state.entries.append(registry_entry(BAP, spelling=spelling))  # type: ignore[arg-type]
    found = await keystore(registry, http_client, clock).get(BAP.subscriber_id, BAP.unique_key_id)
    assert found.url == "https://bap.example.com/beckn"


async def test_cache_ends_at_valid_until_and_a_renewed_key_is_picked_up(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    registry.state.entries.append(registry_entry(BAP, valid_until=clock.utcnow() + timedelta(seconds=30)))
    keys = keystore(registry, http_client, clock)
    await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    clock.advance(29)
    await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    assert len(registry.state.requests) == 1
    registry.state.entries[:] = [registry_entry(BAP, valid_until=clock.utcnow() + timedelta(days=30))]
    clock.advance(2)
    renewed = await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    assert len(registry.state.requests) == 2
    assert renewed.valid_until is not None and renewed.valid_until > clock.utcnow() + timedelta(days=29)


async def test_a_key_past_valid_until_is_not_subscribed(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    registry.state.entries.append(registry_entry(BAP, valid_until=clock.utcnow() + timedelta(seconds=30)))
    keys = keystore(registry, http_client, clock)
    await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    clock.advance(31)
    with pytest.raises(KeyNotSubscribed, match="expired") as caught:
        await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    assert caught.value.reason == "key not subscribed"


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"status": "UNSUBSCRIBED"}, "UNSUBSCRIBED"),
        ({"status": "UNDER_SUBSCRIPTION"}, "UNDER_SUBSCRIPTION"),
        ({"status": "INVALID_SSL"}, "INVALID_SSL"),
        ({"valid_until": "2001-01-01T00:00:00Z"}, "expired"),
        ({"valid_from": "2999-01-01T00:00:00Z"}, "not valid before"),
    ],
)
async def test_revoked_expired_or_future_keys_are_not_subscribed(
    registry: RegistryStandIn,
    http_client: httpx.AsyncClient,
    clock: FakeClock,
    changes: dict[str, str],
    complaint: str,
) -> None:
    registry.state.entries.append({**registry_entry(BAP), **changes})
    with pytest.raises(KeyNotSubscribed, match=complaint):
        await keystore(registry, http_client, clock).get(BAP.subscriber_id, BAP.unique_key_id)


async def test_a_key_that_becomes_subscribed_is_seen_after_the_short_cache(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    registry.state.entries.append(registry_entry(BAP, status="UNDER_SUBSCRIPTION"))
    keys = keystore(registry, http_client, clock, negative_ttl=10)
    with pytest.raises(KeyNotSubscribed):
        await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    registry.state.entries[:] = [registry_entry(BAP)]
    clock.advance(11)
    await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    assert len(registry.state.requests) == 2


async def test_unknown_keys_are_cached_briefly(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    keys = keystore(registry, http_client, clock, negative_ttl=10)
    with pytest.raises(UnknownKey) as caught:
        await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    assert caught.value.reason == "unknown key"
    registry.state.entries.append(registry_entry(BAP))
    clock.advance(9)
    with pytest.raises(UnknownKey):
        await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    assert len(registry.state.requests) == 1
    clock.advance(2)
    await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    assert len(registry.state.requests) == 2


async def test_refresh_skips_the_cache_but_not_within_the_refresh_interval(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    keys = keystore(registry, http_client, clock, negative_ttl=10, min_refresh_interval=1)
    with pytest.raises(UnknownKey):
        await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    with pytest.raises(UnknownKey):
        await keys.get(BAP.subscriber_id, BAP.unique_key_id, refresh=True)
    assert len(registry.state.requests) == 1  # fetched just now: refreshing again would learn nothing
    registry.state.entries.append(registry_entry(BAP))
    clock.advance(1)
    found = await keys.get(BAP.subscriber_id, BAP.unique_key_id, refresh=True)
    assert found.subscriber_id == BAP.subscriber_id
    assert len(registry.state.requests) == 2


async def test_a_registry_that_ignores_the_key_filter_still_gives_the_right_key(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    old = identity(BAP.subscriber_id, "bap-key-0")
    registry.state.entries.extend([registry_entry(old), registry_entry(BAP)])
    for entry in registry.state.entries:  # the stand-in filters on unique_key_id; hide it behind `ukId`
        entry["ukId"] = entry.pop("unique_key_id")
    found = await keystore(registry, http_client, clock).get(BAP.subscriber_id, BAP.unique_key_id)
    assert found.signing_public_key == BAP.signing_public_key


async def test_concurrent_misses_share_one_lookup(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    registry.state.entries.append(registry_entry(BAP))
    keys = keystore(registry, http_client, clock)
    found = await asyncio.gather(*(keys.get(BAP.subscriber_id, BAP.unique_key_id) for _ in range(20)))
    assert {entry.unique_key_id for entry in found} == {BAP.unique_key_id}
    assert len(registry.state.requests) == 1


async def test_invalidate_forgets_one_subscriber_or_all(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    other = identity("bpp.example.com", "bpp-key-1")
    registry.state.entries.extend([registry_entry(BAP), registry_entry(other, type="BPP")])
    keys = keystore(registry, http_client, clock)
    await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    await keys.get(other.subscriber_id, other.unique_key_id)
    registry.state.entries[0]["status"] = "UNSUBSCRIBED"
    keys.invalidate(BAP.subscriber_id)
    with pytest.raises(KeyNotSubscribed):
        await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    await keys.get(other.subscriber_id, other.unique_key_id)
    assert len(registry.state.requests) == 3
    keys.invalidate()
    await keys.get(other.subscriber_id, other.unique_key_id)
    assert len(registry.state.requests) == 4


async def test_the_cache_is_bounded(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    people = [identity(f"bap{n}.example.com", "k") for n in range(3)]
    registry.state.entries.extend(registry_entry(person) for person in people)
    keys = keystore(registry, http_client, clock, max_entries=2)
    for person in people:
        await keys.get(person.subscriber_id, "k")
    await keys.get(people[2].subscriber_id, "k")
    assert len(registry.state.requests) == 3
    await keys.get(people[0].subscriber_id, "k")  # evicted as the least recently used
    assert len(registry.state.requests) == 4


async def test_find_returns_usable_subscribers_of_a_type_and_domain(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, clock: FakeClock
) -> None:
    live = identity("bpp1.example.com", "k")
    revoked = identity("bpp2.example.com", "k")
    elsewhere = identity("bpp3.example.com", "k")
    registry.state.entries.extend(
        [
            registry_entry(live, type="BPP"),
            registry_entry(revoked, type="BPP", status="UNSUBSCRIBED"),
            registry_entry(elsewhere, type="BPP", domain="other:domain"),
            registry_entry(BAP),
        ]
    )
    keys = keystore(registry, http_client, clock, find_ttl=10)
    found = await keys.find(SubscriberType.BPP, DOMAIN)
    assert [entry.subscriber_id for entry in found] == [live.subscriber_id]
    assert registry.state.requests == [{"type": "BPP", "domain": DOMAIN}]
    await keys.find(SubscriberType.BPP, DOMAIN)
    assert len(registry.state.requests) == 1
    clock.advance(11)
    await keys.find(SubscriberType.BPP, DOMAIN)
    assert len(registry.state.requests) == 2


@pytest.mark.parametrize("failure", ["status", "garbage"])
async def test_registry_errors_are_failed_lookups_and_not_cached(
    registry: RegistryStandIn, http_client: httpx.AsyncClient, clock: FakeClock, failure: str
) -> None:
    registry.state.entries.append(registry_entry(BAP))
    if failure == "status":
        registry.state.fail_with_status = 503
    else:
        registry.state.answer_garbage = True
    keys = keystore(registry, http_client, clock)
    with pytest.raises(LookupFailed, match="503" if failure == "status" else "non-JSON"):
        await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    registry.state.fail_with_status = None
    registry.state.answer_garbage = False
    await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    assert len(registry.state.requests) == 2


async def test_nothing_listening_is_a_failed_lookup(http_client: httpx.AsyncClient, clock: FakeClock) -> None:
    source = HttpRegistry(f"http://127.0.0.1:{free_port()}", http_client, timeout=2)
    keys = KeyStore(source, clock=clock.monotonic, utcnow=clock.utcnow)
    with pytest.raises(LookupFailed, match="failed"):
        await keys.get(BAP.subscriber_id, BAP.unique_key_id)
    with pytest.raises(LookupFailed):
        await keys.find(SubscriberType.BPP, DOMAIN)


@pytest.mark.parametrize("url", ["http://[::1", "ftp://registry.example.com"])
async def test_an_unusable_registry_url_is_a_failed_lookup(http_client: httpx.AsyncClient, url: str) -> None:
    with pytest.raises(LookupFailed):
        await HttpRegistry(url, http_client).lookup(LookupQuery(subscriber_id="x"))
