"""Structured logs: one JSON object per line with the Beckn ids of the message being handled."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from participant.logging import configure_logging, current_context, log_context
from participant.settings import LogFormat


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_context_ids_and_extra_fields(restore_root_logger: None) -> None:
    stream = io.StringIO()
    configure_logging("info", LogFormat.JSON, stream=stream)

    with log_context(transaction_id="t-1", action="search"), log_context(message_id="m-1", counterparty=None):
        logging.getLogger("degflex.test").info("accepted %s", "search", extra={"record_id": "r-1"})
    logging.getLogger("degflex.test").debug("not shown at INFO")

    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert (
        entry["level"] == "INFO" and entry["logger"] == "degflex.test" and entry["msg"] == "accepted search"
    )
    assert {key: entry[key] for key in ("transaction_id", "message_id", "action", "record_id")} == {
        "transaction_id": "t-1",
        "message_id": "m-1",
        "action": "search",
        "record_id": "r-1",
    }
    assert "counterparty" not in entry
    assert entry["ts"].endswith("+00:00")


def test_the_context_ends_with_its_block() -> None:
    with log_context(transaction_id="t-1"):
        with log_context(message_id="m-2"):
            assert current_context() == {"transaction_id": "t-1", "message_id": "m-2"}
        assert current_context() == {"transaction_id": "t-1"}
    assert current_context() == {}


def test_console_lines_are_readable_and_keep_tracebacks(restore_root_logger: None) -> None:
    stream = io.StringIO()
    configure_logging(logging.WARNING, LogFormat.CONSOLE, stream=stream)

    with log_context(message_id="m-3"):
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("degflex.test").exception("it failed")

    first, *rest = stream.getvalue().splitlines()
    assert "ERROR" in first and "degflex.test  it failed  message_id=m-3" in first
    assert rest[-1] == "ValueError: boom"


def test_a_json_line_with_an_exception_is_still_one_line(restore_root_logger: None) -> None:
    stream = io.StringIO()
    configure_logging("INFO", LogFormat.JSON, stream=stream)

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("degflex.test").exception("it failed")

    (line,) = stream.getvalue().splitlines()
    assert "RuntimeError: boom" in json.loads(line)["exc"]
