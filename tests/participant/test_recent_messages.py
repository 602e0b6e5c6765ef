"""The in-memory first check for replays: what it remembers, for how long, and within what memory."""

from __future__ import annotations

import pytest

from participant.inbound import RecentMessages


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_remembered_message_is_seen_until_its_window_ends(clock: Clock) -> None:
    recent = RecentMessages(clock=clock)
    recent.remember("bap.example", "m-1", 35)

    assert recent.seen("bap.example", "m-1")
    clock.now += 34.9
    assert recent.seen("bap.example", "m-1")
    clock.now += 0.1
    assert not recent.seen("bap.example", "m-1")
    assert len(recent) == 0


def test_the_key_is_sender_and_message_id(clock: Clock) -> None:
    recent = RecentMessages(clock=clock)
    recent.remember("bap.one", "m-1", 30)

    assert not recent.seen("bap.two", "m-1")
    assert not recent.seen("bap.one", "m-2")


def test_no_window_or_a_long_one_is_capped(clock: Clock) -> None:
    recent = RecentMessages(max_seconds=60, clock=clock)
    recent.remember("bap.example", "no-ttl", None)
    recent.remember("bap.example", "long-ttl", 365 * 86400)

    clock.now += 59
    assert recent.seen("bap.example", "no-ttl") and recent.seen("bap.example", "long-ttl")
    clock.now += 1
    assert not recent.seen("bap.example", "no-ttl") and not recent.seen("bap.example", "long-ttl")


def test_a_message_already_past_its_window_is_not_remembered(clock: Clock) -> None:
    recent = RecentMessages(clock=clock)
    recent.remember("bap.example", "stale", -3)
    recent.remember("bap.example", "now", 0)

    assert len(recent) == 0


def test_the_oldest_go_first_beyond_max_entries(clock: Clock) -> None:
    recent = RecentMessages(max_entries=3, clock=clock)
    for number in range(5):
        recent.remember("bap.example", f"m-{number}", 30)

    assert len(recent) == 3
    assert [recent.seen("bap.example", f"m-{number}") for number in range(5)] == [False, False] + [True] * 3


def test_expired_entries_are_dropped_as_new_ones_arrive(clock: Clock) -> None:
    recent = RecentMessages(clock=clock)
    for number in range(100):
        recent.remember("bap.example", f"old-{number}", 10)
    clock.now += 11
    recent.remember("bap.example", "new", 10)

    assert len(recent) == 1


def test_remembering_again_extends_the_window(clock: Clock) -> None:
    recent = RecentMessages(clock=clock)
    recent.remember("bap.example", "m-1", 10)
    clock.now += 8
    recent.remember("bap.example", "m-1", 10)
    clock.now += 8

    assert recent.seen("bap.example", "m-1")


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RecentMessages(max_entries=0)
