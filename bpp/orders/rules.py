"""The rules an order request must pass: an active offer, its terms, and free capacity.

Each broken rule is raised as an `OrderError` whose code is what the utility is answered with
(`RULE_CODES` for the offer terms); the message says what was asked and what the offer allows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.capacity import service as capacity
from bpp.capacity.models import Reservation
from bpp.fleet.models import format_kw
from bpp.offers.models import OfferTerms
from bpp.offers.repository import OfferTermsRepository
from bpp.offers.rules import OfferRule, Violation, check_cancellation, check_request
from bpp.orders.errors import Field, NotCancellable, QuantityUnavailable, TermsNotMet, UnknownItem
from bpp.orders.requests import OfferRef, Window
from bpp.orders.schemas import TermsSnapshot
from schemas.errors import ErrorCode

RULE_CODES: dict[OfferRule, ErrorCode] = {
    OfferRule.OFFER_INACTIVE: ErrorCode.ITEM_NOT_FOUND,
    OfferRule.QUANTITY_NOT_POSITIVE: ErrorCode.INVALID_REQUEST,
    OfferRule.EMPTY_WINDOW: ErrorCode.INVALID_REQUEST,
    OfferRule.ABOVE_MAX_KW: ErrorCode.ITEM_QUANTITY_UNAVAILABLE,
    OfferRule.BELOW_MIN_KW: ErrorCode.BUSINESS_ERROR,
    OfferRule.TOO_LITTLE_NOTICE: ErrorCode.BUSINESS_ERROR,
    OfferRule.TOO_LONG: ErrorCode.BUSINESS_ERROR,
    OfferRule.TOO_MANY_EVENTS: ErrorCode.BUSINESS_ERROR,
    OfferRule.TOO_LATE_TO_CANCEL: ErrorCode.CANCELLATION_NOT_POSSIBLE,
}
"""The Beckn code of each broken offer rule; when several break, the first in this order wins."""

QUANTITY_RULES = frozenset({OfferRule.QUANTITY_NOT_POSITIVE, OfferRule.BELOW_MIN_KW, OfferRule.ABOVE_MAX_KW})
WINDOW_RULES = frozenset(
    {OfferRule.EMPTY_WINDOW, OfferRule.TOO_LITTLE_NOTICE, OfferRule.TOO_LONG, OfferRule.TOO_MANY_EVENTS}
)


async def active_terms(session: AsyncSession, offer: OfferRef, item_id: str) -> OfferTerms:
    """The offer behind an item, as long as the aggregator still sells it."""
    terms = await OfferTermsRepository(session).get(offer.grid_node, offer.direction)
    if terms is None or not terms.active:
        raise UnknownItem(f"item {item_id!r} is not offered here", field=Field.ITEM)
    return terms


async def events_that_day(
    session: AsyncSession,
    offer: OfferRef,
    window: Window,
    *,
    own: Reservation | None = None,
    now: datetime | None = None,
) -> int:
    """Events already on the node that UTC day (live reservations at `now`), not counting the order's
    own reservation or hold."""
    day = window.start.astimezone(UTC).date()
    return await capacity.events_on_day(
        session,
        offer.grid_node,
        offer.direction,
        day,
        now=now,
        exclude_reservation_id=own.id if own is not None else None,
    )


def check_terms(
    terms: OfferTerms, kw: Decimal, window: Window, now: datetime, *, events_that_day: int
) -> None:
    """Raise TermsNotMet with every broken rule in its message and the code of the most basic one."""
    violations = check_request(terms, kw, window.start, window.end, now, events_that_day=events_that_day)
    if violations:
        raise _refusal(violations)


def _refusal(violations: list[Violation]) -> TermsNotMet:
    ranked = sorted(violations, key=lambda violation: list(RULE_CODES).index(violation.rule))
    first = ranked[0].rule
    field = Field.QUANTITY if first in QUANTITY_RULES else Field.WINDOW if first in WINDOW_RULES else None
    message = "; ".join(str(violation) for violation in ranked)
    return TermsNotMet(message, field=field, code=RULE_CODES[first])


async def check_available(
    session: AsyncSession,
    offer: OfferRef,
    kw: Decimal,
    window: Window,
    *,
    exclude_reservation_id: str | None = None,
    now: datetime | None = None,
) -> Decimal:
    """The kW free over the window; QuantityUnavailable when fewer than `kw`. A hint: only
    `bpp.capacity.service.reserve` decides, under the grid node's lock."""
    available = await capacity.available_kw(
        session,
        offer.grid_node,
        offer.direction,
        window.start,
        window.end,
        exclude_reservation_id=exclude_reservation_id,
        now=now,
    )
    if kw > available:
        raise QuantityUnavailable(
            f"only {format_kw(available)} kW of {offer.direction} are available on {offer.grid_node} "
            f"over that window; {format_kw(kw)} kW asked",
            field=Field.QUANTITY,
        )
    return available


def check_cancellable(snapshot: TermsSnapshot, offer: OfferRef, window: Window, now: datetime) -> None:
    """The contract's cancellation deadline (from the terms it was made under), or NotCancellable."""
    terms = OfferTerms(
        grid_node=offer.grid_node, direction=offer.direction, cancel_before_s=snapshot.cancel_before_s
    )
    violation = check_cancellation(terms, window.start, now)
    if violation is not None:
        raise NotCancellable(violation.message)
