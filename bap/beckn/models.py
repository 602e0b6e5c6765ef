"""Transactions started through the generic Beckn client (`POST /api/beckn/{action}`), for any domain.

Their callbacks are accepted whatever their domain, because we started them; the exchanged messages
themselves are in the message log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from participant.db import Base, UTCDateTime, utcnow


class ClientTransaction(Base):
    __tablename__ = "bap_client_transactions"

    transaction_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    domain: Mapped[str] = mapped_column(String(255))
    started_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
