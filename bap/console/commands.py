"""The operator's plain commands, parsed deterministically: no guessing, no model, same text same command.

    yes, proceed | yes | approve [event]     activate the recommendation awaiting approval
    no | decline [event]                     decline it
    show options [event]                     list the offers and the recommendation
    adjust <offer> <kW>                      take another amount from one offer (0 drops it)
    status                                   events and orders in progress
    cancel <order>                           cancel a confirmed order with its aggregator
    help                                     this list

Ids may be shortened to any unambiguous prefix (4 characters at least). Anything else is `Unknown`,
whose `reply` says what was not understood and what would be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MIN_REF_LENGTH = 4
MAX_COMMAND_LENGTH = 500

HELP = (
    "Commands: 'yes, proceed' (or 'approve [event]') activates the recommendation; 'no' (or "
    "'decline [event]') declines it; 'show options [event]'; 'adjust <offer> <kW>'; 'status'; "
    "'cancel <order>'; 'help'."
)


@dataclass(frozen=True)
class Approve:
    event_ref: str | None = None


@dataclass(frozen=True)
class Decline:
    event_ref: str | None = None


@dataclass(frozen=True)
class ShowOptions:
    event_ref: str | None = None


@dataclass(frozen=True)
class Adjust:
    offer_ref: str
    kw: Decimal


@dataclass(frozen=True)
class Status:
    pass


@dataclass(frozen=True)
class Cancel:
    order_ref: str


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Unknown:
    text: str
    reason: str

    @property
    def reply(self) -> str:
        return f"{self.reason} {HELP}"


Command = Approve | Decline | ShowOptions | Adjust | Status | Cancel | Help | Unknown

_APPROVE = {"yes", "y", "yes proceed", "yes please", "proceed", "go ahead", "approve", "approved", "ok"}
_DECLINE = {"no", "n", "decline", "declined", "reject", "no thanks"}
_OPTIONS = {"show options", "options", "show offers", "offers", "show"}
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_KW = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?:kw)?", re.IGNORECASE)


def _words(text: str) -> list[str]:
    """Words without the punctuation people type around them (`Yes, proceed!`); `12.5` stays whole."""
    words = (word.strip("!.?,;:") for word in re.split(r"[\s,;]+", text.strip()))
    return [word for word in words if word]


def _ref(word: str) -> str | None:
    return word if _REF.fullmatch(word) and len(word) >= MIN_REF_LENGTH else None


def _with_optional_ref(words: list[str], phrases: set[str]) -> tuple[bool, str | None]:
    """Does `words` say one of `phrases`, optionally followed by one id?"""
    lowered = [word.lower() for word in words]
    if " ".join(lowered) in phrases:
        return True, None
    if len(words) >= 2 and " ".join(lowered[:-1]) in phrases:
        ref = _ref(words[-1])
        if ref is not None:
            return True, ref
    return False, None


def parse_command(text: str) -> Command:
    """The command `text` says, or `Unknown` with the reason; never raises."""
    if not isinstance(text, str):
        return Unknown(repr(text), "A command is a line of text.")
    if len(text) > MAX_COMMAND_LENGTH:
        return Unknown(text[:40] + "…", f"That is longer than {MAX_COMMAND_LENGTH} characters.")
    if text.strip() == "?":
        return Help()
    words = _words(text)
    if not words:
        return Unknown(text, "Nothing to do: the command is empty.")
    head = words[0].lower()
    if head in ("help", "commands"):
        return Help()
    if head == "status" and len(words) == 1:
        return Status()
    matched, ref = _with_optional_ref(words, _APPROVE)
    if matched:
        return Approve(ref)
    matched, ref = _with_optional_ref(words, _DECLINE)
    if matched:
        return Decline(ref)
    matched, ref = _with_optional_ref(words, _OPTIONS)
    if matched:
        return ShowOptions(ref)
    if head == "cancel":
        return _cancel(text, words)
    if head == "adjust":
        return _adjust(text, words)
    return Unknown(text, f"I did not understand {_quote(text)}.")


def _cancel(text: str, words: list[str]) -> Command:
    if len(words) == 2 and (ref := _ref(words[1])) is not None:
        return Cancel(ref)
    return Unknown(text, "Cancel needs one order id: 'cancel <order>' (see 'status' for the ids).")


def _adjust(text: str, words: list[str]) -> Command:
    usage = "Adjust needs an offer id and kW: 'adjust <offer> <kW>' (see 'show options' for the ids)."
    rest = [word for word in words[1:] if word.lower() not in ("to", "kw")]
    if len(rest) != 2 or (ref := _ref(rest[0])) is None:
        return Unknown(text, usage)
    match = _KW.fullmatch(rest[1])
    if match is None:
        return Unknown(text, usage)
    try:
        kw = Decimal(match["number"])
    except InvalidOperation:
        return Unknown(text, usage)
    return Adjust(ref, kw)


def _quote(text: str) -> str:
    shown = text.strip()
    return repr(shown if len(shown) <= 60 else shown[:57] + "...")
