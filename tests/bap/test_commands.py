"""The console's command parser: the documented phrases, ids, and a helpful reply for anything else."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bap.console.commands import (
    HELP,
    Adjust,
    Approve,
    Cancel,
    Decline,
    Help,
    ShowOptions,
    Status,
    Unknown,
    parse_command,
)


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("yes, proceed", Approve()),
        ("Yes, proceed!", Approve()),
        ("yes", Approve()),
        ("  YES  ", Approve()),
        ("approve", Approve()),
        ("approve 3f2a9c10", Approve("3f2a9c10")),
        ("proceed", Approve()),
        ("no", Decline()),
        ("decline", Decline()),
        ("decline 3f2a9c10", Decline("3f2a9c10")),
        ("show options", ShowOptions()),
        ("show options 3f2a9c10", ShowOptions("3f2a9c10")),
        ("status", Status()),
        ("cancel ord-1234abcd", Cancel("ord-1234abcd")),
        ("help", Help()),
        ("?", Help()),
        ("adjust 3f2a9c10 30", Adjust("3f2a9c10", Decimal("30"))),
        ("adjust 3f2a9c10 to 12.5 kW", Adjust("3f2a9c10", Decimal("12.5"))),
        ("adjust 3f2a9c10 0", Adjust("3f2a9c10", Decimal("0"))),
    ],
)
def test_documented_commands(text: str, command: object) -> None:
    assert parse_command(text) == command


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "empty"),
        ("cancel", "Cancel needs one order id"),
        ("cancel a b", "Cancel needs one order id"),
        ("adjust 3f2a9c10", "Adjust needs an offer id and kW"),
        ("adjust 3f2a9c10 lots", "Adjust needs an offer id and kW"),
        ("approve abc", "did not understand"),
        ("yes please do it now", "did not understand"),
        ("launch the rockets", "did not understand 'launch the rockets'"),
        ("x" * 600, "longer than 500"),
    ],
)
def test_anything_else_says_what_went_wrong_and_lists_the_commands(text: str, hint: str) -> None:
    command = parse_command(text)
    assert isinstance(command, Unknown)
    assert hint in command.reply
    assert command.reply.endswith(HELP)


def test_status_takes_no_argument() -> None:
    assert isinstance(parse_command("status now"), Unknown)


@given(st.text(max_size=700))
def test_any_text_parses_without_raising(text: str) -> None:
    command = parse_command(text)
    if isinstance(command, Unknown):
        assert HELP in command.reply and command.reply.strip() != HELP


@given(st.text(alphabet=st.characters(categories=["Lu", "Ll", "Nd", "Zs", "Po"]), max_size=80))
def test_parsing_is_deterministic(text: str) -> None:
    assert parse_command(text) == parse_command(text)


@given(
    st.sampled_from(["yes", "Yes", "YES", "yes, proceed", "approve", "proceed"]),
    st.sampled_from(["", "!", "."]),
)
def test_approval_phrases_with_punctuation(phrase: str, ending: str) -> None:
    assert parse_command(phrase + ending) == Approve()
