"""`degflex demo --record DIR`: every participant's messages as JSONL and the registry's subscribers.

One line per message as it crossed the wire: received messages from the message log (`beckn_messages`)
with the headers they came with, sent messages once per delivery attempt (`outbox_attempts`) with the
`Authorization` that attempt carried. Bodies are the exact text, so signatures can be checked again
against `subscribers.json`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from participant.db import make_engine, make_session_factory
from participant.messagelog import Direction, MessageRecord
from participant.migrate import normalize_database_url
from participant.network.plan import NetworkPlan, ParticipantPlan
from participant.outbox import DeliveryAttempt, OutboxEntry, OutboxStatus

SUBSCRIBER_FIELDS = (
    "subscriber_id",
    "type",
    "url",
    "domain",
    "unique_key_id",
    "signing_public_key",
    "encr_public_key",
    "status",
    "valid_from",
    "valid_until",
)


def _body(raw: bytes) -> dict[str, str]:
    try:
        return {"body": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(raw).decode("ascii")}


def _base(part: ParticipantPlan, record: MessageRecord) -> dict[str, Any]:
    return {
        "participant": part.subscriber_id,
        "direction": str(record.direction),
        "action": record.action,
        "message_id": record.message_id,
        "transaction_id": record.transaction_id,
        "counterparty": record.counterparty,
        "url": record.url,
    }


async def participant_lines(part: ParticipantPlan) -> list[dict[str, Any]]:
    """The participant's messages in the order they were stored; sent ones once per attempt."""
    engine = make_engine(normalize_database_url(part.database_url))
    try:
        async with make_session_factory(engine)() as session:
            records = list(await session.scalars(select(MessageRecord).order_by(MessageRecord.created_at)))
            rows = await session.execute(
                select(OutboxEntry.message_record_id, DeliveryAttempt)
                .join(DeliveryAttempt, DeliveryAttempt.outbox_id == OutboxEntry.id)
                .order_by(DeliveryAttempt.attempt)
            )
            attempts: dict[str, list[DeliveryAttempt]] = {}
            for record_id, attempt in rows.tuples():
                attempts.setdefault(record_id, []).append(attempt)
    finally:
        await engine.dispose()
    lines: list[dict[str, Any]] = []
    for record in records:
        headers = {name.lower(): value for name, value in (record.headers or {}).items()}
        if record.direction is Direction.INBOUND:
            lines.append(
                {
                    **_base(part, record),
                    "at": record.created_at.isoformat(),
                    "http_status": record.http_status,
                    "ack_status": record.ack_status,
                    "signature_verdict": record.signature_verdict,
                    "headers": headers,
                    **_body(record.body),
                }
            )
            continue
        tried: list[DeliveryAttempt | None] = list(attempts.get(record.id, [])) or [None]
        for sent_attempt in tried:
            sent = dict(headers)
            if sent_attempt is not None:
                sent.pop("authorization", None)
                if sent_attempt.authorization:
                    sent["authorization"] = sent_attempt.authorization
            lines.append(
                {
                    **_base(part, record),
                    "attempt": None if sent_attempt is None else sent_attempt.attempt,
                    "at": (sent_attempt.started_at if sent_attempt else record.created_at).isoformat(),
                    "http_status": sent_attempt.http_status if sent_attempt else None,
                    "ack_status": sent_attempt.ack_status if sent_attempt else None,
                    "headers": sent,
                    **_body(record.body),
                }
            )
    return lines


async def outbox_quiet(plan: NetworkPlan, *, timeout: float = 10.0) -> bool:
    """Until no participant has a message still being delivered (so the record is complete)."""
    deadline = time.monotonic() + timeout
    while True:
        pending = 0
        for part in plan.participants:
            engine = make_engine(normalize_database_url(part.database_url))
            try:
                async with make_session_factory(engine)() as session:
                    query = select(func.count()).where(OutboxEntry.status == OutboxStatus.PENDING)
                    pending += (await session.scalar(query.select_from(OutboxEntry))) or 0
            finally:
                await engine.dispose()
        if pending == 0:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)


async def registry_subscribers(plan: NetworkPlan, client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The registry's subscriptions as its own lookup answers them (every participant of the network)."""
    response = await client.post(f"{plan.registry_url}/lookup", json={})
    response.raise_for_status()
    return [{name: entry.get(name) for name in SUBSCRIBER_FIELDS} for entry in response.json()]


async def record(plan: NetworkPlan, client: httpx.AsyncClient, directory: Path) -> dict[str, int]:
    """Write `<subscriber_id>.jsonl` per participant and `subscribers.json`; lines written per file."""
    directory.mkdir(parents=True, exist_ok=True)
    await outbox_quiet(plan)
    written: dict[str, int] = {}
    for part in plan.participants:
        lines = await participant_lines(part)
        path = directory / f"{part.subscriber_id}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        written[path.name] = len(lines)
    subscribers = await registry_subscribers(plan, client)
    (directory / "subscribers.json").write_text(json.dumps(subscribers, indent=2) + "\n", encoding="utf-8")
    written["subscribers.json"] = len(subscribers)
    return written
