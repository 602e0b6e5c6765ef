"""Test data: identities, registry entries in each spelling real registries use, subscribers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from registry_client.keys import Identity, generate_identity
from registry_client.lookup import Subscriber, SubscriberStatus, SubscriberType

Spelling = Literal["spec", "deployed", "protocol-server"]
DOMAIN = "deg:demand-flex"


def identity(subscriber_id: str = "bap.example.com", unique_key_id: str | None = None) -> Identity:
    return generate_identity(subscriber_id, unique_key_id)


def _timestamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def registry_entry(
    who: Identity,
    *,
    type: str = "BAP",
    status: str = "SUBSCRIBED",
    domain: str = DOMAIN,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    spelling: Spelling = "deployed",
) -> dict[str, Any]:
    """A `/lookup` answer entry as a real registry writes it."""
    now = datetime.now(UTC)
    entry: dict[str, Any] = {
        "subscriber_id": who.subscriber_id,
        "type": type,
        "domain": domain,
        "signing_public_key": who.signing_public_key,
        "encr_public_key": who.encryption_public_key,
        "status": status,
        "valid_from": _timestamp(valid_from or now - timedelta(days=1)),
        "valid_until": _timestamp(valid_until or now + timedelta(days=365)),
        "created": _timestamp(now - timedelta(days=2)),
        "updated": _timestamp(now - timedelta(days=1)),
    }
    url = f"https://{who.subscriber_id}/beckn"
    if spelling == "spec":
        entry.update(
            url=url, key_id=who.unique_key_id, location={"city": {"code": "*"}, "country": {"code": "IND"}}
        )
    elif spelling == "deployed":
        entry.update(subscriber_url=url, unique_key_id=who.unique_key_id, city="*", country="IND")
    else:
        entry.update(subscriber_url=url, ukId=who.unique_key_id, city="*", country="IND")
    return entry


def subscriber(
    who: Identity,
    *,
    type: SubscriberType = SubscriberType.BAP,
    status: SubscriberStatus = SubscriberStatus.SUBSCRIBED,
    valid_until: datetime | None = None,
    domain: str = DOMAIN,
) -> Subscriber:
    return Subscriber(
        subscriber_id=who.subscriber_id,
        unique_key_id=who.unique_key_id,
        type=type,
        url=f"https://{who.subscriber_id}/beckn",
        signing_public_key=who.signing_public_key,
        status=status,
        domain=domain,
        encryption_public_key=who.encryption_public_key,
        valid_until=valid_until,
    )
