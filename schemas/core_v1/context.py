"""The Beckn context: who talks to whom, in which transaction, and until when the message holds.

We emit UUID ids and millisecond UTC timestamps; we accept what deployed networks send (ids that are
not UUIDs, offsets, Beckn 1.0's top-level `city`/`country`/`core_version`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from schemas.core_v1.actions import Action
from schemas.core_v1.base import BecknModel, Duration, Timestamp
from schemas.core_v1.durations import format_duration, parse_duration, truncate_to_milliseconds
from schemas.core_v1.location import City, Country, Location

CORE_VERSION = "1.1.0"
ENDPOINT_ACTION = "degflex.endpoint_action"
"""Validation-context key: the action of the endpoint a body arrived at (see `parse_envelope_json`)."""


def _new_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return truncate_to_milliseconds(datetime.now(UTC))


class Context(BecknModel):
    domain: str
    location: Location | None = None
    action: Action
    version: str | None = None
    bap_id: str
    bap_uri: str
    bpp_id: str | None = None
    bpp_uri: str | None = None
    transaction_id: str
    message_id: str
    timestamp: Timestamp
    key: str | None = None
    ttl: Duration | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_legacy_fields(cls, data: Any, info: ValidationInfo) -> Any:
        """Beckn 1.0 peers send `city`/`country` codes and `core_version` at the top level.

        Read for an endpoint (`ENDPOINT_ACTION` in the validation context), a missing `action` is the
        endpoint's and another one is an `action_mismatch` error."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        endpoint = info.context.get(ENDPOINT_ACTION) if isinstance(info.context, dict) else None
        if endpoint is not None:
            if "action" not in data:
                data["action"] = endpoint
            elif data["action"] != endpoint:
                raise PydanticCustomError(
                    "action_mismatch", "expected {expected}", {"expected": endpoint, "got": data["action"]}
                )
        city, country = data.get("city"), data.get("country")
        if "location" not in data and (isinstance(city, str) or isinstance(country, str)):
            location: dict[str, Any] = {}
            if isinstance(city, str):
                location["city"] = {"code": city}
            if isinstance(country, str):
                location["country"] = {"code": country}
            data["location"] = location
        if "version" not in data and isinstance(data.get("core_version"), str):
            data["version"] = data["core_version"]
        return data

    @classmethod
    def new(
        cls,
        *,
        action: Action,
        domain: str,
        bap_id: str,
        bap_uri: str,
        bpp_id: str | None = None,
        bpp_uri: str | None = None,
        transaction_id: str | None = None,
        ttl: timedelta = timedelta(seconds=30),
        country: str | None = None,
        city: str | None = None,
        version: str = CORE_VERSION,
    ) -> Context:
        """The context of a new request (or of an unsolicited message): fresh ids, now, ISO 8601 ttl."""
        location = None
        if country is not None or city is not None:
            location = Location(
                city=City(code=city) if city is not None else None,
                country=Country(code=country) if country is not None else None,
            )
        return cls(
            domain=domain,
            location=location,
            action=action,
            version=version,
            bap_id=bap_id,
            bap_uri=bap_uri,
            bpp_id=bpp_id,
            bpp_uri=bpp_uri,
            transaction_id=transaction_id or _new_id(),
            message_id=_new_id(),
            timestamp=_now(),
            ttl=format_duration(ttl),
        )

    def callback(
        self,
        action: Action | None = None,
        *,
        message_id: str | None = None,
        unsolicited: bool = False,
        bpp_id: str | None = None,
        bpp_uri: str | None = None,
    ) -> Context:
        """The context of a reply to this message: same transaction and message id, stamped now.

        An unsolicited callback (an `on_status` pushed as the event progresses) gets a new message id,
        as the spec requires. `bpp_id`/`bpp_uri` fill in who answers a search that reached us through
        a gateway without them.
        """
        reply_action = action or self.action.callback
        if not reply_action.is_callback:
            raise ValueError(f"{reply_action} is not a callback")
        update: dict[str, Any] = {
            "action": reply_action,
            "message_id": message_id or (_new_id() if unsolicited else self.message_id),
            "timestamp": _now(),
        }
        if bpp_id is not None:
            update["bpp_id"] = bpp_id
        if bpp_uri is not None:
            update["bpp_uri"] = bpp_uri
        return self.model_copy(update=update, deep=True)

    def expires_at(self) -> datetime | None:
        """When the message stops being valid (`timestamp + ttl`); None when the sender set no ttl."""
        if self.ttl is None:
            return None
        return self.timestamp + parse_duration(self.ttl)
