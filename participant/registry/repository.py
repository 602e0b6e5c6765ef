"""All SQL of `degflex registry`: subscriptions and the registry's own keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from participant.db import utcnow
from participant.registry.models import RegistryKey, RegistrySubscriber
from registry_client.subscribers import LookupQuery, Subscriber, SubscriberStatus

_UPSERT_COLUMNS = (
    "type",
    "domain",
    "url",
    "signing_public_key",
    "encryption_public_key",
    "status",
    "valid_from",
    "valid_until",
    "city",
    "country",
    "nonce",
    "challenge_error",
    "updated",
)


def _place_matches(column: Any, wanted: str | None) -> ColumnElement[bool] | None:
    """A missing or `*` place on either side matches anything (registry_client's LookupQuery rule)."""
    if wanted is None or wanted == "*":
        return None
    return or_(column.is_(None), column == "*", column == wanted)


class RegistryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, subscriber_id: str, unique_key_id: str) -> RegistrySubscriber | None:
        return await self.session.get(RegistrySubscriber, (subscriber_id, unique_key_id))

    async def upsert(
        self,
        subscriber: Subscriber,
        *,
        status: SubscriberStatus,
        valid_from: datetime,
        valid_until: datetime,
        nonce: str | None = None,
    ) -> RegistrySubscriber:
        """Insert or replace one subscription in a single statement (safe against a concurrent upsert)."""
        now = utcnow()
        values: dict[str, Any] = {
            "subscriber_id": subscriber.subscriber_id,
            "unique_key_id": subscriber.unique_key_id,
            "type": subscriber.type,
            "domain": subscriber.domain,
            "url": subscriber.url,
            "signing_public_key": subscriber.signing_public_key,
            "encryption_public_key": subscriber.encryption_public_key,
            "status": status,
            "valid_from": valid_from,
            "valid_until": valid_until,
            "city": subscriber.city,
            "country": subscriber.country,
            "nonce": nonce,
            "challenge_error": None,
            "created": now,
            "updated": now,
        }
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        statement = dialect.insert(RegistrySubscriber).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[RegistrySubscriber.subscriber_id, RegistrySubscriber.unique_key_id],
            set_={name: getattr(statement.excluded, name) for name in _UPSERT_COLUMNS},
        )
        result = await self.session.scalars(
            statement.returning(RegistrySubscriber), execution_options={"populate_existing": True}
        )
        row: RegistrySubscriber = result.one()
        return row

    async def lookup(self, query: LookupQuery) -> list[RegistrySubscriber]:
        """Every subscription matching the query, whatever its status (clients judge usability)."""
        statement = select(RegistrySubscriber)
        if query.subscriber_id is not None:
            statement = statement.where(RegistrySubscriber.subscriber_id == query.subscriber_id)
        if query.unique_key_id is not None:
            statement = statement.where(RegistrySubscriber.unique_key_id == query.unique_key_id)
        if query.type is not None:
            statement = statement.where(RegistrySubscriber.type == query.type)
        if query.domain is not None:
            statement = statement.where(
                or_(RegistrySubscriber.domain.is_(None), RegistrySubscriber.domain == query.domain)
            )
        for column, wanted in (
            (RegistrySubscriber.city, query.city),
            (RegistrySubscriber.country, query.country),
        ):
            condition = _place_matches(column, wanted)
            if condition is not None:
                statement = statement.where(condition)
        statement = statement.order_by(RegistrySubscriber.subscriber_id, RegistrySubscriber.unique_key_id)
        return list(await self.session.scalars(statement))

    async def all(self) -> list[RegistrySubscriber]:
        return await self.lookup(LookupQuery())

    async def update(
        self, subscriber_id: str, unique_key_id: str, **values: Any
    ) -> RegistrySubscriber | None:
        """Change some fields of one subscription; None when it does not exist."""
        row = await self.get(subscriber_id, unique_key_id)
        if row is None:
            return None
        for name, value in values.items():
            setattr(row, name, value)
        row.updated = utcnow()
        await self.session.flush()
        return row

    async def delete(self, subscriber_id: str, unique_key_id: str) -> bool:
        result = await self.session.execute(
            delete(RegistrySubscriber).where(
                RegistrySubscriber.subscriber_id == subscriber_id,
                RegistrySubscriber.unique_key_id == unique_key_id,
            )
        )
        return cast(CursorResult[Any], result).rowcount == 1

    async def record_challenge(
        self, subscriber_id: str, unique_key_id: str, *, nonce: str | None, error: str | None
    ) -> bool:
        """SUBSCRIBED when the challenge was answered, else the error; only for the subscribe that asked."""
        values: dict[str, Any] = {"challenge_error": error, "updated": utcnow()}
        if error is None:
            values["status"] = SubscriberStatus.SUBSCRIBED
        result = await self.session.execute(
            update(RegistrySubscriber)
            .where(
                RegistrySubscriber.subscriber_id == subscriber_id,
                RegistrySubscriber.unique_key_id == unique_key_id,
                RegistrySubscriber.status == SubscriberStatus.INITIATED,
                RegistrySubscriber.nonce.is_(None) if nonce is None else RegistrySubscriber.nonce == nonce,
            )
            .values(values)
            .execution_options(synchronize_session=False)
        )
        return cast(CursorResult[Any], result).rowcount == 1

    async def key(self, name: str) -> RegistryKey | None:
        return await self.session.get(RegistryKey, name)

    async def add_key_unless_present(self, name: str, *, private_key: str, public_key: str) -> RegistryKey:
        """Store a key under `name` unless another process stored one first; returns the one that won."""
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(RegistryKey)
            .values(name=name, private_key=private_key, public_key=public_key, created=utcnow())
            .on_conflict_do_nothing(index_elements=[RegistryKey.name])
        )
        await self.session.execute(statement)
        stored = await self.session.scalar(
            select(RegistryKey).where(RegistryKey.name == name).execution_options(populate_existing=True)
        )
        if stored is None:
            raise RuntimeError(f"registry key {name!r} vanished right after it was stored")
        return stored
