"""Prometheus metrics of one participant: messages in and out, delivery retries, latencies.

Each `Metrics` owns its registry rather than using the process-wide default, so several participants
(a BAP, a BPP, a registry) can run in one process, as they do in the tests.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder

from participant.outbox import DeliveryOutcome, OutboxStatus

# Inbound handling is sub-millisecond to tens of milliseconds; delivery includes a network round trip.
_INBOUND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_DELIVERY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The counters and histograms a participant updates; read by `GET /metrics`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages_in = Counter(
            "degflex_messages_in_total",
            "Beckn messages received, by action and verdict (ack, a NACK code, or a signature reason).",
            ["action", "verdict"],
            registry=self.registry,
        )
        self.messages_out = Counter(
            "degflex_messages_out_total",
            "Outbox delivery attempts, by action and outcome (the entry's status after the attempt).",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.delivery_retries = Counter(
            "degflex_delivery_retries_total",
            "Delivery attempts after the first one, by action.",
            ["action"],
            registry=self.registry,
        )
        self.inbound_seconds = Histogram(
            "degflex_inbound_seconds",
            "Time from the request's arrival to its ACK or NACK, by action.",
            ["action"],
            buckets=_INBOUND_BUCKETS,
            registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "degflex_delivery_seconds",
            "Duration of one delivery attempt (sign, POST, record), by action.",
            ["action"],
            buckets=_DELIVERY_BUCKETS,
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "degflex_outbox_pending",
            "Outbox entries this process attempted that wait for a retry.",
            registry=self.registry,
        )
        self._retrying: set[str] = set()

    def message_in(self, action: str, verdict: str, seconds: float) -> None:
        self.messages_in.labels(action=action, verdict=verdict).inc()
        self.inbound_seconds.labels(action=action).observe(seconds)

    async def on_outcome(self, outcome: DeliveryOutcome) -> None:
        """`OutboxWorker(on_outcome=metrics.on_outcome)`: one call per attempt, after it was recorded."""
        self.messages_out.labels(action=outcome.action, outcome=outcome.status.value.lower()).inc()
        if outcome.attempt > 1:
            self.delivery_retries.labels(action=outcome.action).inc()
        if outcome.http_status is not None or outcome.seconds > 0:  # expired unsent entries took no time
            self.delivery_seconds.labels(action=outcome.action).observe(outcome.seconds)
        if outcome.status is OutboxStatus.PENDING:
            self._retrying.add(outcome.entry_id)
        else:
            self._retrying.discard(outcome.entry_id)
        self.outbox_pending.set(len(self._retrying))


def metrics_router(metrics: Metrics) -> APIRouter:
    """`GET /metrics` in the Prometheus text format (or OpenMetrics when the scraper asks for it)."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def scrape(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(content=encoder(metrics.registry), media_type=content_type)

    return router
