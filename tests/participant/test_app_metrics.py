"""Metrics: the outbox worker's outcomes become counters, histograms and the pending gauge."""

from __future__ import annotations

from dataclasses import replace

from participant.metrics import Metrics
from participant.outbox import DeliveryOutcome, OutboxStatus


def outcome(
    entry_id: str, status: OutboxStatus, attempt: int, http_status: int | None = 200
) -> DeliveryOutcome:
    return DeliveryOutcome(
        entry_id=entry_id,
        action="on_search",
        target_url="http://bap.test/on_search",
        counterparty="bap.test",
        transaction_id="t-1",
        message_id="m-1",
        status=status,
        attempt=attempt,
        http_status=http_status,
        ack_status="ACK" if status is OutboxStatus.DELIVERED else None,
        error_code=None,
        error_message=None if http_status else "connection refused",
        seconds=0.02,
        final=status.final,
    )


def value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


async def test_outcomes_count_by_action_and_outcome_and_retries_after_the_first_attempt() -> None:
    metrics = Metrics()
    await metrics.on_outcome(outcome("e-1", OutboxStatus.PENDING, 1, http_status=None))
    assert value(metrics, "degflex_outbox_pending") == 1
    await metrics.on_outcome(outcome("e-1", OutboxStatus.DELIVERED, 2))
    await metrics.on_outcome(outcome("e-2", OutboxStatus.DELIVERED, 1))

    assert value(metrics, "degflex_messages_out_total", action="on_search", outcome="delivered") == 2
    assert value(metrics, "degflex_messages_out_total", action="on_search", outcome="pending") == 1
    assert value(metrics, "degflex_delivery_retries_total", action="on_search") == 1
    assert value(metrics, "degflex_delivery_seconds_count", action="on_search") == 3
    assert value(metrics, "degflex_outbox_pending") == 0


async def test_an_entry_that_expired_unsent_is_counted_but_not_timed() -> None:
    metrics = Metrics()
    expired = outcome("e-3", OutboxStatus.EXPIRED, 0, http_status=None)
    await metrics.on_outcome(
        replace(expired, error_message="expired before it could be delivered", seconds=0.0)
    )

    assert value(metrics, "degflex_messages_out_total", action="on_search", outcome="expired") == 1
    assert value(metrics, "degflex_delivery_seconds_count", action="on_search") == 0


def test_two_participants_in_one_process_keep_separate_counts() -> None:
    first, second = Metrics(), Metrics()
    first.message_in("search", "ack", 0.001)

    assert value(first, "degflex_messages_in_total", action="search", verdict="ack") == 1
    assert value(second, "degflex_messages_in_total", action="search", verdict="ack") == 0
