"""Offer terms: the YAML file, management through the service, and `check_request`'s rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.fleet.models import FlexDirection
from bpp.offers import service as offers
from bpp.offers.errors import OfferFileError, OfferNotFound
from bpp.offers.models import OfferTerms
from bpp.offers.rules import OfferRule, check_cancellation, check_request, format_duration
from bpp.offers.terms_file import read_terms_file
from tests.bpp.factories import NODE, T0, at, offer_terms_in

GOOD_FILE = """
offers:
  - grid_node: transformer:TX-17
    direction: REDUCE
    price_per_kwh: "0.25"
    currency: INR
    min_kw: 10
    max_kw: 500
    response_time_s: 300
    min_notice_s: 900
    max_duration_s: 14400
    max_events_per_day: 2
    baseline_method: METER_BEFORE_AFTER
    cancel_before_s: 3600
    cancellation_fee: "50"
    reliability_headroom: 0.15
  - grid_node: feeder:F-3
    direction: INCREASE
    price_per_kwh: 0.1
    reservation_price_per_kw: "1.5"
    currency: INR
    min_kw: 5
    max_kw: 50
    response_time_s: 60
    max_duration_s: 3600
    max_events_per_day: 4
    baseline_method: X_OF_Y_5_10
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "offers.yaml"
    path.write_text(text)
    return path


def test_a_terms_file_is_read_with_defaults(tmp_path: Path) -> None:
    first, second = read_terms_file(_write(tmp_path, GOOD_FILE))
    assert (first.grid_node, first.direction, first.price_per_kwh) == (
        NODE,
        FlexDirection.REDUCE,
        Decimal("0.25"),
    )
    assert first.baseline_method == "METER_BEFORE_AFTER"
    assert first.reliability_headroom == Decimal("0.15")
    assert second.baseline_method == "X_OF_Y_5_10" and second.min_notice_s == 0
    assert second.reliability_headroom == Decimal("0.1") and second.reservation_price_per_kw == Decimal("1.5")
    assert second.active is True and second.cancellation_fee == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("offers: [", "not valid YAML"),
        ("- grid_node: transformer:TX-17", "expected a list of offer terms under `offers:`"),
        ("offers:\n  - 42", "offers[0]: expected a mapping of fields"),
        (
            GOOD_FILE.replace("max_kw: 500", "max_kw: 5"),
            "offers[0] (transformer:TX-17 REDUCE): max_kw (5) must not be below min_kw (10)",
        ),
        (
            GOOD_FILE.replace("currency: INR\n    min_kw: 5", "currency: rupees\n    min_kw: 5"),
            "offers[1] (feeder:F-3 INCREASE): currency: String should match pattern",
        ),
        (
            GOOD_FILE.replace("direction: INCREASE", "direction: SIDEWAYS"),
            "offers[1] (feeder:F-3 SIDEWAYS): direction",
        ),
        (
            GOOD_FILE.replace("reliability_headroom: 0.15", "reliability_headroom: 0.6"),
            "reliability_headroom",
        ),
        (
            GOOD_FILE.replace("    max_events_per_day: 2\n", ""),
            "offers[0] (transformer:TX-17 REDUCE): max_events_per_day",
        ),
        (GOOD_FILE.replace("cancellation_fee:", "cancelation_fee:"), "cancelation_fee: Extra inputs"),
        (
            GOOD_FILE.replace("METER_BEFORE_AFTER", "AVERAGE"),
            "baseline_method: baseline_method is X_OF_Y_<x>_<y>",
        ),
        (GOOD_FILE.replace("METER_BEFORE_AFTER", "X_OF_Y_11_10"), "X_OF_Y_11_10: x must not exceed y"),
        (
            GOOD_FILE.replace("feeder:F-3", "transformer:TX-17").replace("INCREASE", "REDUCE"),
            "repeats offers[0]",
        ),
    ],
)
def test_file_errors_name_the_file_entry_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(OfferFileError) as caught:
        read_terms_file(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_a_missing_file_is_an_offer_file_error(tmp_path: Path) -> None:
    with pytest.raises(OfferFileError, match="cannot read the file"):
        read_terms_file(tmp_path / "absent.yaml")


async def test_applying_a_file_creates_then_replaces(session: AsyncSession, tmp_path: Path) -> None:
    created = await offers.apply_terms_file(session, _write(tmp_path, GOOD_FILE))
    await session.commit()
    assert {(t.grid_node, t.direction) for t in created} == {
        (NODE, FlexDirection.REDUCE),
        ("feeder:F-3", FlexDirection.INCREASE),
    }
    first_id = created[0].id

    await offers.apply_terms_file(session, _write(tmp_path, GOOD_FILE.replace('"0.25"', '"0.3125"')))
    await session.commit()
    session.expunge_all()
    terms = await offers.get_terms(session, NODE, FlexDirection.REDUCE)
    assert terms.id == first_id and terms.price_per_kwh == Decimal("0.3125")
    assert len(await offers.list_terms(session)) == 2


async def test_a_bad_file_changes_nothing(session: AsyncSession, tmp_path: Path) -> None:
    with pytest.raises(OfferFileError):
        await offers.apply_terms_file(session, _write(tmp_path, GOOD_FILE.replace("max_kw: 50", "max_kw: 1")))
    assert list(await offers.list_terms(session)) == []


async def test_put_list_and_delete(session: AsyncSession) -> None:
    terms, created = await offers.put_terms(session, NODE, FlexDirection.REDUCE, offer_terms_in())
    assert created and terms.active
    _, created = await offers.put_terms(session, NODE, FlexDirection.REDUCE, offer_terms_in(active=False))
    assert not created
    await offers.put_terms(session, "feeder:F-3", FlexDirection.REDUCE, offer_terms_in())
    await session.commit()

    assert [t.grid_node for t in await offers.list_terms(session, active=True)] == ["feeder:F-3"]
    assert [t.grid_node for t in await offers.list_terms(session, grid_node=NODE)] == [NODE]
    assert await offers.reliability_headroom(session, NODE, FlexDirection.REDUCE) == Decimal("0.1")

    await offers.delete_terms(session, NODE, FlexDirection.REDUCE)
    with pytest.raises(OfferNotFound):
        await offers.get_terms(session, NODE, FlexDirection.REDUCE)
    with pytest.raises(OfferNotFound):
        await offers.delete_terms(session, NODE, FlexDirection.REDUCE)


def _terms(**overrides: object) -> OfferTerms:
    spec = offer_terms_in(**overrides)
    return OfferTerms(grid_node=NODE, direction=FlexDirection.REDUCE, **spec.model_dump())


NOW = T0 - timedelta(hours=2)


def test_a_request_within_the_terms_has_no_violations() -> None:
    assert check_request(_terms(), Decimal(100), at(0), at(1), NOW, events_that_day=1) == []
    assert check_request(_terms(), Decimal(10), at(0), at(4), at(-0.25)) == [], "bounds are inclusive"


@pytest.mark.parametrize(
    ("kw", "start", "end", "now", "events", "rule", "message"),
    [
        (Decimal(5), at(0), at(1), NOW, 0, OfferRule.BELOW_MIN_KW, "5 kW is below the minimum of 10 kW"),
        (
            Decimal("500.5"),
            at(0),
            at(1),
            NOW,
            0,
            OfferRule.ABOVE_MAX_KW,
            "500.5 kW is above the maximum of 500 kW",
        ),
        (Decimal(0), at(0), at(1), NOW, 0, OfferRule.QUANTITY_NOT_POSITIVE, "0 kW is not a quantity"),
        (Decimal(50), at(1), at(0), NOW, 0, OfferRule.EMPTY_WINDOW, "ends before it starts"),
        (
            Decimal(50),
            at(0),
            at(1),
            at(-0.1),
            0,
            OfferRule.TOO_LITTLE_NOTICE,
            "the event starts in 6 min, but transformer:TX-17 REDUCE needs at least 15 min notice",
        ),
        (Decimal(50), at(0), at(1), at(0.5), 0, OfferRule.TOO_LITTLE_NOTICE, "the event starts in the past"),
        (
            Decimal(50),
            at(0),
            at(5.5),
            NOW,
            0,
            OfferRule.TOO_LONG,
            "the event lasts 5 h 30 min, longer than the 4 h maximum",
        ),
        (
            Decimal(50),
            at(0),
            at(1),
            NOW,
            2,
            OfferRule.TOO_MANY_EVENTS,
            "already has 2 event(s) on 2026-11-23 (UTC); the maximum is 2 a day",
        ),
    ],
)
def test_each_rule_is_reported_in_plain_words(
    kw: Decimal, start: datetime, end: datetime, now: datetime, events: int, rule: OfferRule, message: str
) -> None:
    violations = check_request(_terms(), kw, start, end, now, events_that_day=events)
    assert [v.rule for v in violations] == [rule]
    assert message in str(violations[0])


def test_every_violation_is_reported_at_once() -> None:
    violations = check_request(_terms(active=False), Decimal(1), at(0), at(6), at(0), events_that_day=9)
    assert [v.rule for v in violations] == [
        OfferRule.OFFER_INACTIVE,
        OfferRule.BELOW_MIN_KW,
        OfferRule.TOO_LITTLE_NOTICE,
        OfferRule.TOO_LONG,
        OfferRule.TOO_MANY_EVENTS,
    ]


def test_cancellation_closes_cancel_before_s_ahead_of_the_start() -> None:
    terms = _terms(cancel_before_s=3600)
    assert check_cancellation(terms, at(0), at(-1)) is None
    late = check_cancellation(terms, at(0), at(-0.5))
    assert (
        late is not None
        and late.rule is OfferRule.TOO_LATE_TO_CANCEL
        and "1 h before the start" in late.message
    )


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "0 s"), (45, "45 s"), (900, "15 min"), (5400, "1 h 30 min"), (183600, "2 d 3 h")],
)
def test_durations_read_like_people_write_them(seconds: int, words: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == words


def test_terms_default_to_the_10_of_10_baseline_and_a_tenth_of_headroom() -> None:
    spec = offer_terms_in()
    values = spec.model_dump(exclude={"baseline_method", "reliability_headroom", "cancel_before_s"})
    defaulted = type(spec).model_validate(values)
    assert defaulted.baseline_method == "X_OF_Y_10_10"
    assert defaulted.reliability_headroom == Decimal("0.1") and defaulted.cancel_before_s == 0
