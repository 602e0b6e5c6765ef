"""Allocation rules (`bpp.dispatch.allocation`): properties over any fleet, and the ranking by example."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bpp.dispatch.allocation import Candidate, allocate, ranked, with_headroom

T0 = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)

kilowatts = st.decimals(min_value=Decimal("0"), max_value=Decimal("50"), places=3)
candidates = st.lists(
    st.builds(
        Candidate,
        device_id=st.text(alphabet="abcdefgh", min_size=1, max_size=4),
        available_kw=kilowatts,
        online=st.booleans(),
        fresh=st.booleans(),
        reliability=st.floats(min_value=0, max_value=1),
        soc=st.none() | st.floats(min_value=0, max_value=1),
        last_called_at=st.none() | st.integers(0, 1000).map(lambda minutes: T0 - timedelta(minutes=minutes)),
        calls=st.integers(0, 20),
    ),
    max_size=25,
    unique_by=lambda candidate: candidate.device_id,
)


@settings(max_examples=300)
@given(
    candidates, kilowatts, st.decimals(min_value=Decimal("0"), max_value=Decimal("0.5"), places=2), st.data()
)
def test_allocation_respects_every_device_and_covers_what_it_can(
    fleet: list[Candidate], required: Decimal, headroom: Decimal, data: st.DataObject
) -> None:
    excluded = frozenset(
        data.draw(st.sets(st.sampled_from([c.device_id for c in fleet]))) if fleet else set()
    )
    target = with_headroom(required, headroom)
    allocation = allocate(fleet, required_kw=required, target_kw=target, exclude=excluded)
    by_id = {candidate.device_id: candidate for candidate in fleet}

    ids = allocation.device_ids
    assert len(ids) == len(set(ids)), "a device is given one command"
    for assignment in allocation.assignments:
        device = by_id[assignment.device_id]
        assert device.online, "never an offline device"
        assert assignment.device_id not in excluded, "never an excluded (busy or already used) device"
        assert Decimal(0) < assignment.kw <= device.available_kw, "never more than a device can give"

    capacity = sum((c.available_kw for c in fleet if c.online and c.device_id not in excluded), Decimal(0))
    assert allocation.allocated_kw == sum((a.kw for a in allocation.assignments), Decimal(0))
    assert allocation.allocated_kw == min(target, capacity), "covers the target when it can, never more"
    assert allocation.shortfall_kw == max(required - allocation.allocated_kw, Decimal(0))
    assert allocation.spare_kw == capacity - allocation.allocated_kw
    if capacity >= required:
        assert allocation.shortfall_kw == 0


@given(st.integers(2, 12), st.integers(1, 12), st.integers(2, 6))
def test_rotation_spreads_calls_over_the_fleet(size: int, needed: int, rounds: int) -> None:
    """Identical devices, `needed` of them per event: nobody is called twice before everyone was called
    once, and after any number of events the calls differ by at most one between devices."""
    needed = min(needed, size)
    fleet = {f"dev-{n:02d}": Candidate(f"dev-{n:02d}", Decimal("5")) for n in range(size)}
    calls = dict.fromkeys(fleet, 0)
    for event in range(rounds * size):
        now = T0 + timedelta(hours=event)
        allocation = allocate(list(fleet.values()), required_kw=Decimal(5 * needed))
        assert len(allocation.assignments) == needed
        for device_id in allocation.device_ids:
            calls[device_id] += 1
            old = fleet[device_id]
            fleet[device_id] = Candidate(device_id, old.available_kw, last_called_at=now, calls=old.calls + 1)
        assert max(calls.values()) - min(calls.values()) <= 1


def test_headroom_is_rounded_up_to_the_watt() -> None:
    assert with_headroom(Decimal("12"), Decimal("0.2")) == Decimal("14.4")
    assert with_headroom(Decimal("0.001"), Decimal("0.1")) == Decimal("0.002")
    assert with_headroom(Decimal("10"), Decimal("0")) == Decimal("10")


def test_the_ranking_prefers_heard_reliable_rested_charged_devices() -> None:
    fleet = [
        Candidate("stale", Decimal("5"), fresh=False, reliability=1.0),
        Candidate("flaky", Decimal("5"), reliability=0.5),
        Candidate("busy-yesterday", Decimal("5"), last_called_at=T0 - timedelta(days=1), calls=1),
        Candidate("called-last-week", Decimal("5"), last_called_at=T0 - timedelta(days=7), calls=9),
        Candidate("never-called", Decimal("5"), calls=0),
        Candidate("empty-battery", Decimal("5"), soc=0.2),
        Candidate("full-battery", Decimal("5"), soc=0.9),
        Candidate("offline", Decimal("5"), online=False),
        Candidate("nothing-to-give", Decimal("0")),
    ]
    assert [candidate.device_id for candidate in ranked(fleet)] == [
        "full-battery",  # never called, and the most charge
        "empty-battery",
        "never-called",  # no state of charge: counts as none
        "called-last-week",
        "busy-yesterday",
        "flaky",  # less reliable: after every reliable device
        "stale",  # not heard from lately: last of all
    ]


def test_a_small_remainder_goes_to_the_next_device_and_the_rest_stay_spare() -> None:
    fleet = [Candidate(f"dev-{n}", Decimal("5")) for n in range(1, 6)]
    allocation = allocate(fleet, required_kw=Decimal("12"), target_kw=Decimal("14.4"))
    assert [(a.device_id, a.kw) for a in allocation.assignments] == [
        ("dev-1", Decimal("5")),
        ("dev-2", Decimal("5")),
        ("dev-3", Decimal("4.4")),
    ]
    assert (allocation.allocated_kw, allocation.spare_kw, allocation.shortfall_kw) == (
        Decimal("14.4"),
        Decimal("10.6"),
        Decimal("0"),
    )
    short = allocate(fleet[:2], required_kw=Decimal("12"), target_kw=Decimal("14.4"))
    assert (short.allocated_kw, short.shortfall_kw) == (Decimal("10"), Decimal("2"))
