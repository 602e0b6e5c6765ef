"""What `degflex registry` reads and writes on the wire.

Answers carry both field spellings seen in real registries (`url`/`subscriber_url`, `key_id`/
`unique_key_id`, `encr_public_key`/`encryption_public_key`) so any client finds the names it expects;
requests are read with registry_client's liberal parser.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from participant.registry.models import RegistrySubscriber
from registry_client.subscribers import SubscriberStatus
from schemas.core_v1 import format_timestamp


def _timestamp(moment: datetime | None) -> str | None:
    return format_timestamp(moment) if moment is not None else None


def subscription_view(row: RegistrySubscriber) -> dict[str, Any]:
    """One subscription as registry.yaml's Subscription, plus the deployed registries' spellings."""
    view: dict[str, Any] = {
        "subscriber_id": row.subscriber_id,
        "url": row.url,
        "subscriber_url": row.url,
        "type": row.type.value,
        "domain": row.domain,
        "key_id": row.unique_key_id,
        "unique_key_id": row.unique_key_id,
        "signing_public_key": row.signing_public_key,
        "encr_public_key": row.encryption_public_key,
        "encryption_public_key": row.encryption_public_key,
        "status": row.status.value,
        "valid_from": _timestamp(row.valid_from),
        "valid_until": _timestamp(row.valid_until),
        "created": _timestamp(row.created),
        "updated": _timestamp(row.updated),
    }
    location: dict[str, Any] = {}
    for name, value in (("city", row.city), ("country", row.country)):
        if value is not None:
            view[name] = value
            location[name] = {"code": value}
    if location:
        view["location"] = location
    return view


def admin_view(row: RegistrySubscriber) -> dict[str, Any]:
    """The lookup view plus what only an operator needs (why a subscribe challenge failed)."""
    return {**subscription_view(row), "nonce": row.nonce, "challenge_error": row.challenge_error}


class SubscriptionPatch(BaseModel):
    """`PATCH /admin/subscribers/{subscriber_id}/{unique_key_id}`: revoke, extend, or move a subscription."""

    model_config = ConfigDict(extra="forbid")

    status: SubscriberStatus | None = None
    valid_until: AwareDatetime | None = None
    url: str | None = Field(default=None, min_length=1)

    @field_validator("status", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        return value.rstrip("/") if value is not None else None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude_none=True)


class RegistryInfo(BaseModel):
    """`GET /`: who this registry is and the key subscribers need to answer its challenge."""

    name: str = "degflex registry"
    url: str | None
    encryption_public_key: str
    challenge_subscribers: bool
    endpoints: list[str]


class SubscribeAccepted(BaseModel):
    status: str = "UNDER_SUBSCRIPTION"
