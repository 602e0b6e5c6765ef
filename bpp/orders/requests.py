"""What a utility asks of an offer, in domain terms (the Beckn reading lives in `bpp.beckn.requests`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bpp.fleet.models import FlexDirection


@dataclass(frozen=True)
class OfferRef:
    """One catalog item: the offer of one direction on one grid node."""

    grid_node: str
    direction: FlexDirection


@dataclass(frozen=True)
class Window:
    """A flexibility event window, half-open [start, end), timezone-aware."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class FlexRequest:
    """select / init / confirm: `kw` and `window` are None when the message left them out."""

    item_id: str
    offer: OfferRef
    kw: Decimal | None = None
    window: Window | None = None
    billing: dict[str, Any] | None = None


@dataclass(frozen=True)
class Buyer:
    """The BAP an order belongs to, and the Beckn transaction it is negotiated in."""

    bap_id: str
    bap_uri: str
    transaction_id: str


@dataclass(frozen=True)
class OrderChange:
    """An update: a new kW, a new window, or both (None: unchanged)."""

    kw: Decimal | None = None
    window: Window | None = None


@dataclass(frozen=True)
class CancelRequest:
    reason_id: str | None = None
    description: str | None = None
