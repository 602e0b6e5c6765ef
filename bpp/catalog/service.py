"""Which offers answer a search, and what each can still sell over the searched window.

An offer (active terms for a grid node and direction) is in the catalog when its node has ONLINE devices
serving that direction, lies in the searched place (grid node, area code, or a circle around the centre
of its devices), accepts the searched window under its terms (notice, length, events per day), and has
at least its minimum kW free. A utility needing more than an offer has is still shown it: several offers
can cover one need.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.capacity import service as capacity
from bpp.catalog.items import item_id
from bpp.catalog.query import FlexQuery, GeoPoint
from bpp.catalog.repository import CatalogRepository, FleetGroup
from bpp.fleet.models import SERVED_DIRECTIONS, DerKind, FlexDirection
from bpp.offers import service as offers
from bpp.offers.models import OfferTerms
from bpp.offers.repository import OfferTermsRepository
from bpp.offers.rules import check_request
from bpp.offers.terms_file import read_terms_file
from bpp.orders import rules
from bpp.orders.requests import OfferRef, Window

HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class NodeFleet:
    """The ONLINE devices behind one grid node, as the catalog describes them."""

    grid_node: str
    groups: tuple[FleetGroup, ...]

    def _serving(self, direction: FlexDirection) -> list[FleetGroup]:
        return [group for group in self.groups if direction in SERVED_DIRECTIONS[group.kind]]

    def devices(self, direction: FlexDirection) -> int:
        return sum(group.devices for group in self._serving(direction))

    def kinds(self, direction: FlexDirection) -> list[DerKind]:
        return sorted({group.kind for group in self._serving(direction)})

    def reliability(self, direction: FlexDirection) -> Decimal:
        """The devices' mean reliability, rounded down to the hundredth (never overstated)."""
        groups = self._serving(direction)
        devices = sum(group.devices for group in groups)
        if devices == 0:
            return Decimal(0)
        total = sum((Decimal(str(group.mean_reliability)) * group.devices for group in groups), Decimal(0))
        return (total / devices).quantize(HUNDREDTH, rounding=ROUND_FLOOR)

    @property
    def area_codes(self) -> list[str]:
        """Most devices first."""
        counts: Counter[str] = Counter()
        for group in self.groups:
            if group.area_code:
                counts[group.area_code] += group.devices
        return [code for code, _ in sorted(counts.items(), key=lambda entry: (-entry[1], entry[0]))]

    @property
    def centroid(self) -> GeoPoint | None:
        located = [group for group in self.groups if group.located and group.mean_latitude is not None]
        count = sum(group.located for group in located)
        if count == 0:
            return None
        latitude = sum((group.mean_latitude or 0.0) * group.located for group in located) / count
        longitude = sum((group.mean_longitude or 0.0) * group.located for group in located) / count
        return GeoPoint(round(latitude, 6), round(longitude, 6))


@dataclass(frozen=True)
class CatalogOffer:
    offer: OfferRef
    item_id: str
    terms: OfferTerms
    available_kw: Decimal
    fleet: NodeFleet


def fleets_by_node(groups: Iterable[FleetGroup]) -> dict[str, NodeFleet]:
    grouped: dict[str, list[FleetGroup]] = defaultdict(list)
    for group in groups:
        grouped[group.grid_node].append(group)
    return {node: NodeFleet(node, tuple(members)) for node, members in grouped.items()}


async def find_offers(session: AsyncSession, query: FlexQuery, *, now: datetime) -> list[CatalogOffer]:
    """The offers matching `query`, by grid node then direction, with the kW each can still sell."""
    candidates = await OfferTermsRepository(session).search(
        grid_node=query.grid_node, direction=query.direction, active=True
    )
    fleets = fleets_by_node(await CatalogRepository(session).fleet_groups())
    available_now: dict[tuple[str, FlexDirection], Decimal] | None = None
    found: list[CatalogOffer] = []
    for terms in candidates:
        offer = OfferRef(terms.grid_node, terms.direction)
        fleet = fleets.get(terms.grid_node)
        if fleet is None or fleet.devices(terms.direction) == 0 or not _matches(query, offer, terms, fleet):
            continue
        if query.window is not None:
            if await _refuses_window(session, terms, query.window, now):
                continue
            available = await capacity.available_kw(
                session, terms.grid_node, terms.direction, query.window.start, query.window.end, now=now
            )
        else:
            if available_now is None:
                summary = await capacity.node_summary(session, now)
                available_now = {(entry.grid_node, entry.direction): entry.available_kw for entry in summary}
            available = available_now.get((terms.grid_node, terms.direction), Decimal(0))
        if available >= terms.min_kw:
            found.append(CatalogOffer(offer, item_id(offer), terms, available, fleet))
    return found


def _matches(query: FlexQuery, offer: OfferRef, terms: OfferTerms, fleet: NodeFleet) -> bool:
    if query.item is not None and query.item != offer:
        return False
    if query.area_code is not None and query.area_code not in fleet.area_codes:
        return False
    if query.circle is not None:
        centroid = fleet.centroid
        if centroid is None or not query.circle.contains(centroid):
            return False
    return query.min_notice is None or terms.min_notice_s <= query.min_notice.total_seconds()


async def _refuses_window(session: AsyncSession, terms: OfferTerms, window: Window, now: datetime) -> bool:
    """Whether the offer's terms rule the window out, whatever kW would be asked."""
    offer = OfferRef(terms.grid_node, terms.direction)
    day_events = await rules.events_that_day(session, offer, window, now=now)
    violations = check_request(terms, terms.min_kw, window.start, window.end, now, events_that_day=day_events)
    return any(violation.rule in rules.WINDOW_RULES for violation in violations)


async def load_offers_file(
    session: AsyncSession, path: Path, *, default_headroom: Decimal
) -> Sequence[OfferTerms]:
    """Create or replace the terms in an offers file (validated whole first); entries that leave out
    `reliability_headroom` get the aggregator's default."""
    entries = read_terms_file(path)
    loaded: list[OfferTerms] = []
    for entry in entries:
        if "reliability_headroom" not in entry.model_fields_set:
            entry = entry.model_copy(update={"reliability_headroom": default_headroom})
        terms, _ = await offers.put_terms(session, entry.grid_node, entry.direction, entry)
        loaded.append(terms)
    return loaded
