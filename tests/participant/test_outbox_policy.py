"""The delivery rules on their own: what each answer means, how the reply is read, how long to back off."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from participant.outbox.models import OutboxStatus
from participant.outbox.policy import Reply, backoff_delay, judge, read_reply

ACK = Reply("ACK")


def nack(code: str) -> Reply:
    return Reply("NACK", code, "no")


@pytest.mark.parametrize(
    ("http_status", "reply", "attempt", "expected"),
    [
        (200, ACK, 1, OutboxStatus.DELIVERED),
        (202, ACK, 1, OutboxStatus.DELIVERED),
        (204, Reply(None), 1, OutboxStatus.DELIVERED),
        (200, nack("30004"), 1, OutboxStatus.NACKED),
        (400, nack("30000"), 1, OutboxStatus.NACKED),
        (404, Reply(None), 1, OutboxStatus.NACKED),
        (302, Reply(None), 1, OutboxStatus.NACKED),
        (400, ACK, 1, OutboxStatus.NACKED),
        (200, nack("20002"), 1, OutboxStatus.NACKED),
        (409, nack("20002"), 2, OutboxStatus.DELIVERED),
        (409, nack("30022"), 3, OutboxStatus.DELIVERED),
        (409, nack("30022"), 1, OutboxStatus.NACKED),
        (200, nack("20002"), 2, OutboxStatus.NACKED),
        (400, nack("30022"), 3, OutboxStatus.NACKED),
        (400, nack("30016"), 2, OutboxStatus.NACKED),
        (401, nack("30016"), 1, None),
        (408, Reply(None), 1, None),
        (429, Reply(None), 1, None),
        (500, ACK, 1, None),
        (503, Reply(None), 1, None),
    ],
)
def test_judge(http_status: int, reply: Reply, attempt: int, expected: OutboxStatus | None) -> None:
    assert judge(http_status, reply, attempt=attempt).status is expected


def test_a_duplicate_counted_as_delivered_says_so() -> None:
    note = judge(409, nack("20002"), attempt=2).note
    assert note is not None and "already had" in note


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"message":{"ack":{"status":"ACK"}}}', Reply("ACK")),
        (b'{"context":{"action":"search"},"message":{"ack":{"status":"ACK"}}}', Reply("ACK")),
        (
            b'{"message":{"ack":{"status":"nack"}},"error":{"code":"30004","message":"gone"}}',
            Reply("NACK", "30004", "gone"),
        ),
        (b'{"error":{"code":20002}}', Reply("NACK", "20002", None)),
        (b"", Reply(None)),
        (b"<html>ok</html>", Reply(None)),
        (b'{"message":"ok"}', Reply(None)),
        (b"[]", Reply(None)),
    ],
)
def test_read_reply(body: bytes, expected: Reply) -> None:
    assert read_reply(body) == expected


@given(st.binary(max_size=300))
def test_read_reply_never_raises_on_bytes(body: bytes) -> None:
    assert read_reply(body).ack_status in (None, "ACK", "NACK")


REPLY_KEYS = st.sampled_from(
    ["message", "ack", "status", "error", "code", "message", "context", "ACK", "NACK"]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(["ACK", "NACK", "nack", "20002", ""]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(REPLY_KEYS, children, max_size=3),
)


@given(JSON_VALUES)
def test_read_reply_never_raises_on_json(data: object) -> None:
    assert read_reply(json.dumps(data).encode()).ack_status in (None, "ACK", "NACK")


@given(st.integers(min_value=1, max_value=5000), st.floats(min_value=0.0, max_value=1.0))
def test_backoff_grows_exponentially_with_full_jitter_and_a_cap(attempt: int, draw: float) -> None:
    delay = backoff_delay(attempt, base=0.5, cap=60.0, uniform=lambda: draw)
    ceiling = min(60.0, 0.5 * 2.0 ** min(attempt - 1, 62))
    assert 0.0 <= delay <= ceiling
    assert backoff_delay(attempt, base=0.5, cap=60.0, uniform=lambda: 1.0) == ceiling
