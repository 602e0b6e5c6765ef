"""Registry entries and lookup queries, read in every spelling real registries use.

Registries disagree on field names (`url`/`subscriber_url`, `key_id`/`unique_key_id`/`ukId`), so
answers are read liberally and a malformed entry is skipped with a warning, while queries we send use
the spec's names.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from nacl.signing import VerifyKey

from registry_client.errors import KeyFormatError, LookupFailed
from registry_client.keys import load_verify_key

logger = logging.getLogger(__name__)


class _UpperCaseEnum(StrEnum):
    """Accepts `bpp` for `BPP`: some registries and static files write types and statuses in lowercase."""

    @classmethod
    def _missing_(cls, value: object) -> _UpperCaseEnum | None:
        if isinstance(value, str):
            for member in cls:
                if member.value == value.strip().upper():
                    return member
        return None


class SubscriberType(_UpperCaseEnum):
    BAP = "BAP"
    BPP = "BPP"
    BG = "BG"
    BREG = "BREG"


class SubscriberStatus(_UpperCaseEnum):
    INITIATED = "INITIATED"
    UNDER_SUBSCRIPTION = "UNDER_SUBSCRIPTION"
    SUBSCRIBED = "SUBSCRIBED"
    EXPIRED = "EXPIRED"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    INVALID_SSL = "INVALID_SSL"


@dataclass(frozen=True)
class Subscriber:
    """One registry entry: a participant's key (by unique_key_id) for one domain, and where it listens."""

    subscriber_id: str
    unique_key_id: str
    type: SubscriberType
    url: str
    signing_public_key: str
    status: SubscriberStatus
    domain: str | None = None
    encryption_public_key: str | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    city: str | None = None
    country: str | None = None
    created: datetime | None = None
    updated: datetime | None = None

    @cached_property
    def verify_key(self) -> VerifyKey:
        """The signing public key, decoded once per entry (the key store keeps entries for hours)."""
        return load_verify_key(self.signing_public_key)

    def is_usable(self, now: datetime | None = None) -> bool:
        """SUBSCRIBED and inside its validity window: only then may its signatures be trusted."""
        return self.unusable_reason(now) is None

    def unusable_reason(self, now: datetime | None = None) -> str | None:
        """Why this key may not be trusted at `now`, or None when it may."""
        now = now or datetime.now(UTC)
        if self.status is not SubscriberStatus.SUBSCRIBED:
            return f"status is {self.status.value}"
        if self.valid_from is not None and now < self.valid_from:
            return f"key is not valid before {self.valid_from.isoformat()}"
        if self.valid_until is not None and now > self.valid_until:
            return f"key expired at {self.valid_until.isoformat()}"
        return None


_ALIASES: dict[str, tuple[str, ...]] = {
    "unique_key_id": ("unique_key_id", "key_id", "ukId", "uk_id"),
    "url": ("url", "subscriber_url"),
    "encryption_public_key": ("encr_public_key", "encryption_public_key"),
}
_LIST_KEYS = ("subscribers", "data", "results", "items")


def _optional_text(entry: Mapping[str, Any], name: str) -> str | None:
    for alias in _ALIASES.get(name, (name,)):
        value = entry.get(alias)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValueError(f"{alias} is a {type(value).__name__}, not a string")
        return value
    return None


def _text(entry: Mapping[str, Any], name: str) -> str:
    value = _optional_text(entry, name)
    if value is None:
        raise ValueError(f"no {name}")
    return value


def _place(entry: Mapping[str, Any], name: str) -> str | None:
    """Flat `city`/`country` (deployed registries) or the spec's `location.city.code`."""
    value = entry.get(name)
    location = entry.get("location")
    if value is None and isinstance(location, Mapping):
        value = location.get(name)
    if isinstance(value, Mapping):
        value = value.get("code") or value.get("name")
    return value if isinstance(value, str) and value else None


def parse_timestamp(value: object) -> datetime | None:
    """RFC 3339 with `Z` or an offset; a timestamp without a zone is taken as UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"timestamp {value!r} is not a string")
    parsed = datetime.fromisoformat(value.strip())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_subscriber(
    entry: Mapping[str, Any], *, default_status: SubscriberStatus | None = None
) -> Subscriber:
    """One entry in any spelling; ValueError says what is wrong with it."""
    status_text = _optional_text(entry, "status")
    if status_text is not None:
        status = SubscriberStatus(status_text)
    elif default_status is not None:
        status = default_status
    else:
        raise ValueError("no status")
    signing_public_key = _text(entry, "signing_public_key")
    try:
        load_verify_key(signing_public_key)
    except KeyFormatError as exc:
        raise ValueError(str(exc)) from None
    return Subscriber(
        subscriber_id=_text(entry, "subscriber_id"),
        unique_key_id=_text(entry, "unique_key_id"),
        type=SubscriberType(_text(entry, "type")),
        url=_text(entry, "url"),
        signing_public_key=signing_public_key,
        status=status,
        domain=_optional_text(entry, "domain"),
        encryption_public_key=_optional_text(entry, "encryption_public_key"),
        valid_from=parse_timestamp(entry.get("valid_from")),
        valid_until=parse_timestamp(entry.get("valid_until")),
        city=_place(entry, "city"),
        country=_place(entry, "country"),
        created=parse_timestamp(entry.get("created")),
        updated=parse_timestamp(entry.get("updated")),
    )


def parse_subscribers(payload: object, *, default_status: SubscriberStatus | None = None) -> list[Subscriber]:
    """A registry's answer: a list, or an object holding one; bad entries are logged and skipped.

    LookupFailed when the payload holds no list at all (an error object is not "nobody found").
    """
    subscribers: list[Subscriber] = []
    for index, entry in enumerate(_entries(payload)):
        if not isinstance(entry, Mapping):
            logger.warning("skipping registry entry %d: not an object", index)
            continue
        try:
            subscribers.append(parse_subscriber(entry, default_status=default_status))
        except ValueError as exc:
            logger.warning("skipping registry entry %d (%s): %s", index, entry.get("subscriber_id", "?"), exc)
    return subscribers


def _entries(payload: object) -> Sequence[object]:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, Mapping):
        if "subscriber_id" in payload:
            return [payload]
        for key in _LIST_KEYS:
            value = payload.get(key)
            if isinstance(value, list):
                return value
        lists = [value for value in payload.values() if isinstance(value, list)]
        if len(lists) == 1:
            return lists[0]
    raise LookupFailed(f"registry answer is not a list of subscribers: {str(payload)[:200]}")


def _is_wildcard(value: str | None) -> bool:
    return value is None or value == "*"


@dataclass(frozen=True)
class LookupQuery:
    """What to ask a registry for; unset fields match anything."""

    subscriber_id: str | None = None
    unique_key_id: str | None = None
    type: SubscriberType | None = None
    domain: str | None = None
    city: str | None = None
    country: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """Spec names, plus `unique_key_id` beside `key_id` and flat city/country beside `location`:
        deployed registries filter on those and ignore names they do not know."""
        payload: dict[str, Any] = {}
        if self.subscriber_id is not None:
            payload["subscriber_id"] = self.subscriber_id
        if self.unique_key_id is not None:
            payload["key_id"] = self.unique_key_id
            payload["unique_key_id"] = self.unique_key_id
        if self.type is not None:
            payload["type"] = self.type.value
        if self.domain is not None:
            payload["domain"] = self.domain
        location: dict[str, Any] = {}
        for name, value in (("city", self.city), ("country", self.country)):
            if value is not None:
                payload[name] = value
                location[name] = {"code": value}
        if location:
            payload["location"] = location
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> LookupQuery:
        """A lookup request in any spelling real participants send (for a registry answering one).

        ValueError when a field has the wrong type or an unknown subscriber type.
        """
        type_text = _optional_text(payload, "type")
        return cls(
            subscriber_id=_optional_text(payload, "subscriber_id"),
            unique_key_id=_optional_text(payload, "unique_key_id"),
            type=SubscriberType(type_text) if type_text is not None else None,
            domain=_optional_text(payload, "domain"),
            city=_place(payload, "city"),
            country=_place(payload, "country"),
        )

    def matches(self, subscriber: Subscriber) -> bool:
        """Ids and type must equal when asked for; a subscriber without a domain serves any domain,
        and `*` or a missing city/country matches any."""
        exact = (
            (self.subscriber_id, subscriber.subscriber_id),
            (self.unique_key_id, subscriber.unique_key_id),
            (self.type, subscriber.type),
        )
        if any(wanted is not None and wanted != actual for wanted, actual in exact):
            return False
        if self.domain is not None and subscriber.domain is not None and self.domain != subscriber.domain:
            return False
        for wanted, actual in ((self.city, subscriber.city), (self.country, subscriber.country)):
            if not (_is_wildcard(wanted) or _is_wildcard(actual) or wanted == actual):
                return False
        return True
