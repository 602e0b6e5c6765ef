"""Whether a request for flexibility fits the offer terms, in words a grid operator understands.

These are pure rules on terms already loaded; select and confirm turn each violation into a Beckn error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from bpp.fleet.models import format_kw
from bpp.offers.models import OfferTerms


class OfferRule(StrEnum):
    OFFER_INACTIVE = "OFFER_INACTIVE"
    QUANTITY_NOT_POSITIVE = "QUANTITY_NOT_POSITIVE"
    BELOW_MIN_KW = "BELOW_MIN_KW"
    ABOVE_MAX_KW = "ABOVE_MAX_KW"
    EMPTY_WINDOW = "EMPTY_WINDOW"
    TOO_LITTLE_NOTICE = "TOO_LITTLE_NOTICE"
    TOO_LONG = "TOO_LONG"
    TOO_MANY_EVENTS = "TOO_MANY_EVENTS"
    TOO_LATE_TO_CANCEL = "TOO_LATE_TO_CANCEL"


@dataclass(frozen=True)
class Violation:
    """One broken rule: `rule` for code that maps it to a protocol error, `message` for people."""

    rule: OfferRule
    message: str

    def __str__(self) -> str:
        return self.message


def check_request(
    terms: OfferTerms,
    kw: Decimal,
    window_start: datetime,
    window_end: datetime,
    now: datetime,
    *,
    events_that_day: int = 0,
) -> list[Violation]:
    """Every way the request breaks the terms (empty when it fits).

    `events_that_day` is how many events the grid node already has in that direction on the UTC day the
    window starts (see `bpp.capacity.service.events_on_day`).
    """
    violations: list[Violation] = []
    where = f"{terms.grid_node} {terms.direction}"
    if not terms.active:
        violations.append(Violation(OfferRule.OFFER_INACTIVE, f"the offer for {where} is not active"))
    if kw <= 0:
        violations.append(Violation(OfferRule.QUANTITY_NOT_POSITIVE, f"{format_kw(kw)} kW is not a quantity"))
    elif kw < terms.min_kw:
        violations.append(
            Violation(
                OfferRule.BELOW_MIN_KW,
                f"{format_kw(kw)} kW is below the minimum of {format_kw(terms.min_kw)} kW for {where}",
            )
        )
    elif kw > terms.max_kw:
        violations.append(
            Violation(
                OfferRule.ABOVE_MAX_KW,
                f"{format_kw(kw)} kW is above the maximum of {format_kw(terms.max_kw)} kW for {where}",
            )
        )
    if window_end <= window_start:
        violations.append(Violation(OfferRule.EMPTY_WINDOW, "the event window ends before it starts"))
        return violations
    notice = window_start - now
    min_notice = timedelta(seconds=terms.min_notice_s)
    if notice < min_notice:
        given = (
            "the event starts in the past"
            if notice < timedelta(0)
            else f"the event starts in {format_duration(notice)}"
        )
        violations.append(
            Violation(
                OfferRule.TOO_LITTLE_NOTICE,
                f"{given}, but {where} needs at least {format_duration(min_notice)} notice",
            )
        )
    duration = window_end - window_start
    if duration > timedelta(seconds=terms.max_duration_s):
        violations.append(
            Violation(
                OfferRule.TOO_LONG,
                f"the event lasts {format_duration(duration)}, longer than the "
                f"{format_duration(timedelta(seconds=terms.max_duration_s))} maximum for {where}",
            )
        )
    if events_that_day >= terms.max_events_per_day:
        violations.append(
            Violation(
                OfferRule.TOO_MANY_EVENTS,
                f"{where} already has {events_that_day} event(s) on {window_start.date().isoformat()} (UTC); "
                f"the maximum is {terms.max_events_per_day} a day",
            )
        )
    return violations


def check_cancellation(terms: OfferTerms, window_start: datetime, now: datetime) -> Violation | None:
    """Cancelling is refused less than `cancel_before_s` before the event starts (and once it started)."""
    deadline = window_start - timedelta(seconds=terms.cancel_before_s)
    if now <= deadline:
        return None
    return Violation(
        OfferRule.TOO_LATE_TO_CANCEL,
        f"cancellation closed {format_duration(timedelta(seconds=terms.cancel_before_s))} before the start "
        f"of the event; it starts at {window_start.isoformat()}",
    )


def format_duration(value: timedelta) -> str:
    """`45 s`, `15 min`, `1 h 30 min`, `2 d 3 h`: the two largest units, for messages."""
    seconds = int(value.total_seconds())
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size or (not parts and unit == "s"):
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return " ".join(parts[:2]) if parts else "0 s"
