"""What `degflex registry` stores: subscriptions (one per subscriber and key) and its own X25519 key."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from participant.db import Base, UTCDateTime, utcnow
from registry_client.subscribers import SubscriberStatus, SubscriberType


def _enum_type(enum: type[StrEnum], length: int) -> Enum:
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )


class RegistrySubscriber(Base):
    """One subscription: a subscriber's key pair for one domain, with its callback URL and status.

    Types and statuses are registry_client's, so what this registry stores is what its clients read.
    """

    __tablename__ = "registry_subscribers"

    subscriber_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    unique_key_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[SubscriberType] = mapped_column(_enum_type(SubscriberType, 8))
    # None: serves every domain (as registry_client's LookupQuery.matches reads it).
    domain: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    signing_public_key: Mapped[str] = mapped_column(Text)
    encryption_public_key: Mapped[str | None] = mapped_column(Text)
    status: Mapped[SubscriberStatus] = mapped_column(_enum_type(SubscriberStatus, 32))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    city: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(64))
    nonce: Mapped[str | None] = mapped_column(String(255))
    # Why the last subscribe challenge failed (the subscription then stays INITIATED).
    challenge_error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return (
            f"RegistrySubscriber({self.subscriber_id!r}, {self.unique_key_id!r}, "
            f"{self.type!s}, {self.domain!r}, {self.status!s})"
        )


class RegistryKey(Base):
    """The registry's own keys, generated on first start so subscribers can be challenged."""

    __tablename__ = "registry_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_key: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
