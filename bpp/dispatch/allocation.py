"""Which devices deliver an order's kW, and how much each: pure functions, no I/O.

Devices are taken in rank order, each asked for all it can give until the target is covered (the last
one for what is left):

1. only ONLINE devices that can give something in the direction over the window, and are not excluded
   (already in this order, or busy in an overlapping one);
2. devices heard from recently before stale ones;
3. more reliable before less reliable, in steps of 5 % (so noise in the figure does not decide);
4. rotation: the device called longest ago (never called first), then the one called least often,
   so the same households are not called every time;
5. batteries with more charge first, then larger devices, then the device id (a stable order).

The target is the committed kW plus the opt-out headroom when spare devices exist; only falling short
of the committed kW itself is a shortfall.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal

from bpp.capacity.rules import WATT, ZERO

_NEVER = datetime.min.replace(tzinfo=UTC)
RELIABILITY_STEP = 20
"""Reliability is compared in 1/20 steps (5 %)."""


@dataclass(frozen=True)
class Candidate:
    """A device as allocation sees it: what it can give now and what rotation knows about it."""

    device_id: str
    available_kw: Decimal
    online: bool = True
    fresh: bool = True
    reliability: float = 0.95
    soc: float | None = None
    last_called_at: datetime | None = None
    calls: int = 0


@dataclass(frozen=True)
class Assignment:
    device_id: str
    kw: Decimal


@dataclass(frozen=True)
class Allocation:
    assignments: tuple[Assignment, ...]
    required_kw: Decimal
    target_kw: Decimal
    allocated_kw: Decimal
    spare_kw: Decimal
    """What the eligible devices left out could still give."""

    @property
    def shortfall_kw(self) -> Decimal:
        return max(self.required_kw - self.allocated_kw, ZERO)

    @property
    def device_ids(self) -> list[str]:
        return [assignment.device_id for assignment in self.assignments]


def with_headroom(kw: Decimal, headroom: Decimal) -> Decimal:
    """kW × (1 + headroom), rounded up to the watt so the headroom is never lost to rounding."""
    return (kw * (1 + headroom)).quantize(WATT, rounding=ROUND_CEILING)


def eligible(candidate: Candidate, exclude: frozenset[str] = frozenset()) -> bool:
    return candidate.online and candidate.available_kw > ZERO and candidate.device_id not in exclude


def rank_key(candidate: Candidate) -> tuple[object, ...]:
    tier = math.floor(candidate.reliability * RELIABILITY_STEP + 1e-9)
    return (
        not candidate.fresh,
        -tier,
        candidate.last_called_at or _NEVER,
        candidate.calls,
        -(candidate.soc or 0.0),
        -candidate.available_kw,
        candidate.device_id,
    )


def ranked(candidates: Iterable[Candidate], exclude: frozenset[str] = frozenset()) -> list[Candidate]:
    """The eligible candidates, best first (each device once)."""
    unique = {candidate.device_id: candidate for candidate in candidates}
    return sorted((c for c in unique.values() if eligible(c, exclude)), key=rank_key)


def allocate(
    candidates: Sequence[Candidate],
    *,
    required_kw: Decimal,
    target_kw: Decimal | None = None,
    exclude: frozenset[str] = frozenset(),
) -> Allocation:
    """Cover `target_kw` (default `required_kw`) from the best-ranked devices, each within its means."""
    target = max(required_kw, target_kw if target_kw is not None else required_kw, ZERO)
    assignments: list[Assignment] = []
    allocated = ZERO
    spare = ZERO
    for candidate in ranked(candidates, exclude):
        if allocated >= target:
            spare += candidate.available_kw
            continue
        kw = min(candidate.available_kw, target - allocated)
        assignments.append(Assignment(candidate.device_id, kw))
        allocated += kw
        spare += candidate.available_kw - kw
    return Allocation(tuple(assignments), max(required_kw, ZERO), target, allocated, spare)
