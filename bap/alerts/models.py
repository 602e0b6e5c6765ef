"""What the desk must look at: stress on a node, a shortfall, an aggregator that refused or went quiet."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bap.columns import string_enum
from bap.events.models import Severity
from participant.db import Base, UTCDateTime, new_id, utcnow


class AlertKind(StrEnum):
    GRID_STRESS = "grid_stress"
    SHORTFALL = "shortfall"
    NO_OPTIONS = "no_options"
    AGGREGATOR_NACK = "aggregator_nack"
    AGGREGATOR_SILENT = "aggregator_silent"
    CALLBACK_TIMEOUT = "callback_timeout"
    QUOTE_CHANGED = "quote_changed"
    FALLBACK = "fallback"
    SIGNATURE_FAILURE = "signature_failure"
    DELIVERY_AT_RISK = "delivery_at_risk"


class Alert(Base):
    __tablename__ = "bap_alerts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[AlertKind] = mapped_column(string_enum(AlertKind, 32))
    severity: Mapped[Severity] = mapped_column(string_enum(Severity, 16))
    message: Mapped[str] = mapped_column(Text)
    event_id: Mapped[str | None] = mapped_column(String(36), index=True)
    order_id: Mapped[str | None] = mapped_column(String(36))
    aggregator_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
