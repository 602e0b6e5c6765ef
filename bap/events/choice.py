"""From stored rows to the recommendation's models and back, and an operator's own choice of takes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

from bap.errors import Invalid
from bap.events.models import FlexEvent, FlexOffer
from bap.recommendation.models import (
    FlexDirection,
    FlexNeed,
    FlexOption,
    Recommendation,
    Selection,
    SolveMethod,
)
from schemas.core_v1 import format_decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)


def need_of(
    event: FlexEvent, *, required_kw: Decimal | None = None, headroom: Decimal | None = None
) -> FlexNeed:
    return FlexNeed(
        required_kw=required_kw if required_kw is not None else event.required_kw,
        window_start=event.window_start,
        window_end=event.window_end,
        direction=FlexDirection(event.direction),
        headroom=headroom if headroom is not None else event.headroom,
        max_price_per_kwh=event.max_price_per_kwh,
    )


def option_of(offer: FlexOffer) -> FlexOption:
    direction = offer.direction if offer.direction in FlexDirection.__members__ else None
    return FlexOption(
        option_id=offer.id,
        aggregator_id=offer.aggregator_id,
        available_kw=offer.available_kw,
        min_kw=min(offer.min_kw, offer.max_kw),
        max_kw=offer.max_kw,
        price_per_kwh=offer.price_per_kwh,
        reliability=offer.reliability,
        direction=FlexDirection(direction) if direction else None,
    )


def options_of(offers: Iterable[FlexOffer]) -> list[FlexOption]:
    return [option_of(offer) for offer in offers]


def stored(recommendation: Recommendation) -> dict[str, Any]:
    """JSON-ready, with every number in canonical text (`50`, not `50.000`)."""
    data: dict[str, Any] = _plain(recommendation.model_dump())
    return data


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def loaded(data: Mapping[str, Any]) -> Recommendation:
    return Recommendation.model_validate(data)


def adjusted(
    need: FlexNeed, current: Recommendation, offers: Mapping[str, FlexOffer], takes: Mapping[str, Decimal]
) -> Recommendation:
    """`current` with the kW of some offers replaced (0 drops one); refuses takes an offer cannot give."""
    kw_by_offer = {selection.option_id: selection.kw for selection in current.selections}
    for offer_id, kw in takes.items():
        offer = offers.get(offer_id)
        if offer is None:
            raise Invalid(f"offer {offer_id!r} is not an offer of this event")
        takeable = min(offer.available_kw, offer.max_kw)
        if kw and not offer.min_kw <= kw <= takeable:
            raise Invalid(f"offer {offer_id} can give between {offer.min_kw} and {takeable} kW, not {kw} kW")
        kw_by_offer[offer_id] = kw
    selections = tuple(_selection(need, offers[o], kw) for o, kw in kw_by_offer.items() if kw > 0)
    return summary(need, selections, current.excluded, "Adjusted by an operator.")


def summary(
    need: FlexNeed, selections: Sequence[Selection], excluded: Any, explanation: str
) -> Recommendation:
    expected = sum((s.expected_kw for s in selections), ZERO)
    gap = max(need.target_kw - expected, ZERO)
    return Recommendation(
        selections=tuple(selections),
        covered_kw=sum((s.kw for s in selections), ZERO),
        expected_kw=expected,
        required_kw=need.required_kw,
        target_kw=need.target_kw,
        cost=sum((s.cost for s in selections), ZERO),
        partial=gap > 0,
        gap_kw=gap,
        excluded=tuple(excluded),
        method=SolveMethod.EXACT,
        explanation=explanation,
    )


def _selection(need: FlexNeed, offer: FlexOffer, kw: Decimal) -> Selection:
    energy = (kw * offer.price_per_kwh * need.hours).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return Selection(
        option_id=offer.id,
        aggregator_id=offer.aggregator_id,
        kw=kw,
        expected_kw=kw * offer.reliability,
        price_per_kwh=offer.price_per_kwh,
        reliability=offer.reliability,
        energy_cost=energy,
        reservation_cost=ZERO,
        cost=energy,
    )
