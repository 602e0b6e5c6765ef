"""Signed outbound delivery through a persistent outbox: written with the transaction, sent after it."""

from participant.outbox.models import DeliveryAttempt, OutboxEntry, OutboxStatus
from participant.outbox.repository import OutboxRepository
from participant.outbox.service import enqueue
from participant.outbox.worker import DeliveryOutcome, OutboxWorker

__all__ = [
    "DeliveryAttempt",
    "DeliveryOutcome",
    "OutboxEntry",
    "OutboxRepository",
    "OutboxStatus",
    "OutboxWorker",
    "enqueue",
]
