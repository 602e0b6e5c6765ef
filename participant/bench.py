"""`degflex bench pipeline`: what the inbound pipeline costs per message, without HTTP.

It runs, for each message, the methods the route runs, in the same order, and times each:
`InboundPipeline.screen` (content type, BECKN-006 signature over the raw bytes with the key from a warm
key cache, JSON, schema, context, signer), `InboundPipeline.check_fresh` (the in-memory recent-message
check) and `InboundPipeline.persist` (the authoritative dedupe: the insert into the message log of a
migrated SQLite file, a no-op `accept`, the commit). `total` is screen + dedupe, the checks without the
database write; `total_with_persist` is the whole cost of accepting a message.

The checks are timed a second time back to back (`total_back_to_back`: screen + dedupe for one fresh
message after another, no database work between them), because on a small, shared machine code that
runs right after a wait on SQLite runs slower than the same code run warm. Not timed: HTTP, the
handler's `process`.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from participant.cli import package_version
from participant.db import make_engine, make_session_factory, utcnow
from participant.inbound import BaseActionHandler, InboundPipeline, InboundPolicy, InboxDispatcher, Inspection
from participant.inbound.checks import major_minor
from participant.migrate import upgrade
from registry_client.keys import Identity, generate_identity
from registry_client.lookup import KeyStore, StaticRegistry, Subscriber, SubscriberStatus, SubscriberType
from registry_client.signing import sign_body
from registry_client.verifier import RequestVerifier
from schemas.core_v1 import CORE_VERSION, Action, Context

DOMAIN = "deg:demand-flex"
WARMUP = 200
# Messages are all signed before the clock starts: they must stay valid for the longest run.
VALIDITY = timedelta(hours=1)


@dataclass(frozen=True)
class Timing:
    """Microseconds per message."""

    p50: float
    p99: float
    mean: float

    @classmethod
    def of(cls, samples_ns: Sequence[int]) -> Timing:
        micros = sorted(sample / 1000 for sample in samples_ns)
        return cls(
            p50=round(statistics.median(micros), 1),
            p99=round(micros[min(len(micros) - 1, int(len(micros) * 0.99))], 1),
            mean=round(statistics.fmean(micros), 1),
        )


@dataclass(frozen=True)
class ActionResult:
    action: str
    body_bytes: int
    iterations: int
    total: Timing
    screen: Timing
    dedupe: Timing
    persist: Timing
    total_with_persist: Timing
    total_back_to_back: Timing


PARTS = ("screen", "dedupe", "total", "persist", "total_with_persist", "total_back_to_back")
PART_LABELS = {
    "total": "total no persist",
    "total_with_persist": "total + persist",
    "total_back_to_back": "total back2back",
}


def _search(context: Context) -> dict[str, Any]:
    start = context.timestamp + timedelta(hours=2)
    return {
        "intent": {
            "fulfillment": {
                "stops": [
                    {
                        "type": "event",
                        "location": {"id": "transformer:TX-17", "gps": "37.7749,-122.4194"},
                        "time": {
                            "range": {
                                "start": start.isoformat().replace("+00:00", "Z"),
                                "end": (start + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
                            }
                        },
                    }
                ]
            },
            "tags": [
                {
                    "descriptor": {"code": "flex_need"},
                    "list": [
                        {"descriptor": {"code": "direction"}, "value": "REDUCE"},
                        {"descriptor": {"code": "required_kw"}, "value": "250"},
                        {"descriptor": {"code": "min_notice"}, "value": "PT15M"},
                    ],
                }
            ],
        }
    }


def _confirm(context: Context) -> dict[str, Any]:
    start = (context.timestamp + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    end = (context.timestamp + timedelta(hours=4)).isoformat().replace("+00:00", "Z")
    return {
        "order": {
            "provider": {"id": "aggregator-1"},
            "items": [
                {
                    "id": "offer-tx17-reduce",
                    "quantity": {"selected": {"measure": {"value": "80", "unit": "kW"}}},
                }
            ],
            "fulfillments": [
                {
                    "id": "event",
                    "type": "DEMAND_FLEXIBILITY",
                    "stops": [
                        {
                            "type": "event",
                            "location": {"id": "transformer:TX-17"},
                            "time": {"range": {"start": start, "end": end}},
                        }
                    ],
                }
            ],
            "quote": {
                "price": {"currency": "USD", "value": "40"},
                "breakup": [
                    {"item": {"id": "offer-tx17-reduce"}, "title": "80 kW x 2 h", "price": {"value": "40"}}
                ],
            },
            "billing": {"name": "Bay Utility", "email": "grid-desk@utility.example"},
            "payments": [{"type": "POST-FULFILLMENT", "collected_by": "BAP", "status": "NOT-PAID"}],
        }
    }


BODIES: dict[Action, Callable[[Context], dict[str, Any]]] = {Action.SEARCH: _search, Action.CONFIRM: _confirm}


def _signed(action: Action, sender: Identity, receiver: str) -> tuple[bytes, dict[str, str]]:
    """A fresh message (new message_id), as a BAP would send it."""
    context = Context.new(
        action=action,
        domain=DOMAIN,
        bap_id=sender.subscriber_id,
        bap_uri="http://utility.bench/beckn",
        bpp_id=None if action is Action.SEARCH else receiver,
        bpp_uri=None if action is Action.SEARCH else "http://aggregator.bench/beckn",
        country="USA",
        city="std:415",
        ttl=VALIDITY,
    )
    body = {"context": context.dump(), "message": BODIES[action](context)}
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    authorization = sign_body(
        raw,
        signing_key=sender.signing_private_key,
        subscriber_id=sender.subscriber_id,
        unique_key_id=sender.unique_key_id,
        validity=int(VALIDITY.total_seconds()),
    )
    return raw, {"content-type": "application/json", "authorization": authorization}


def _received(action: Action, body: bytes, headers: dict[str, str]) -> Inspection:
    """A message as the route hands it to the pipeline (made before the clock starts)."""
    return Inspection(
        action=action, headers=headers, url=f"http://bench/{action}", received_at=utcnow(), body=body
    )


async def _bench_action(
    pipeline: InboundPipeline, action: Action, sender: Identity, iterations: int
) -> ActionResult:
    receiver = pipeline.policy.subscriber_id
    messages = [_signed(action, sender, receiver) for _ in range(WARMUP + iterations)]
    screen_ns: list[int] = []
    dedupe_ns: list[int] = []
    persist_ns: list[int] = []
    for body, headers in messages:
        inspection = _received(action, body, headers)
        started = time.perf_counter_ns()
        await pipeline.screen(inspection)
        screened = time.perf_counter_ns()
        pipeline.check_fresh(inspection)
        checked = time.perf_counter_ns()
        await pipeline.persist(inspection)
        persisted = time.perf_counter_ns()
        screen_ns.append(screened - started)
        dedupe_ns.append(checked - screened)
        persist_ns.append(persisted - checked)
    screen_ns, dedupe_ns, persist_ns = screen_ns[WARMUP:], dedupe_ns[WARMUP:], persist_ns[WARMUP:]
    checks = [a + b for a, b in zip(screen_ns, dedupe_ns, strict=True)]
    back_to_back_ns: list[int] = []
    for body, headers in [_signed(action, sender, receiver) for _ in range(WARMUP + iterations)]:
        inspection = _received(action, body, headers)
        started = time.perf_counter_ns()
        await pipeline.screen(inspection)
        pipeline.check_fresh(inspection)
        back_to_back_ns.append(time.perf_counter_ns() - started)
    return ActionResult(
        action=action.value,
        body_bytes=len(messages[0][0]),
        iterations=iterations,
        total=Timing.of(checks),
        screen=Timing.of(screen_ns),
        dedupe=Timing.of(dedupe_ns),
        persist=Timing.of(persist_ns),
        total_with_persist=Timing.of([a + b for a, b in zip(checks, persist_ns, strict=True)]),
        total_back_to_back=Timing.of(back_to_back_ns[WARMUP:]),
    )


async def bench_pipeline(iterations: int, directory: Path) -> list[ActionResult]:
    """Both actions against one migrated SQLite database in `directory`."""
    url = f"sqlite+aiosqlite:///{directory / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    sender, receiver = generate_identity("utility.bench"), generate_identity("aggregator.bench")
    keystore = KeyStore(
        StaticRegistry(
            [
                Subscriber(
                    subscriber_id=sender.subscriber_id,
                    unique_key_id=sender.unique_key_id,
                    type=SubscriberType.BAP,
                    url="http://utility.bench/beckn",
                    signing_public_key=sender.signing_public_key,
                    status=SubscriberStatus.SUBSCRIBED,
                    domain=DOMAIN,
                )
            ]
        )
    )
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        handlers = {action: BaseActionHandler() for action in BODIES}
        pipeline = InboundPipeline(
            policy=InboundPolicy(
                subscriber_id=receiver.subscriber_id,
                domains=frozenset({DOMAIN}),
                version=major_minor(CORE_VERSION),
                skew=timedelta(seconds=5),
                max_body_bytes=1_048_576,
            ),
            verifier=RequestVerifier(keystore),
            session_factory=sessions,
            handlers=handlers,
            inbox=InboxDispatcher(sessions, handlers, keystore),
        )
        return [await _bench_action(pipeline, action, sender, iterations) for action in BODIES]
    finally:
        await engine.dispose()


def machine_info() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "degflex": package_version(),
        "load_average": _load_average(),
    }


def _load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages, taken before the run: other work on the machine skews figures."""
    try:
        return [round(load, 2) for load in os.getloadavg()]
    except OSError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run(iterations: int) -> dict[str, Any]:
    """The whole report: what was measured, on what, and the figures."""
    machine = machine_info()  # load average before the run, not caused by it
    with tempfile.TemporaryDirectory(prefix="degflex-bench-") as directory:
        results = asyncio.run(bench_pipeline(iterations, Path(directory)))
    return {
        "benchmark": "inbound pipeline",
        "measures": {
            "screen": "InboundPipeline.screen: content type, signature, JSON, schema, context, signer "
            "(warm key cache)",
            "dedupe": "InboundPipeline.check_fresh: the in-memory recent-message check",
            "persist": "InboundPipeline.persist: insert into the message log (the authoritative dedupe), "
            "no-op accept, commit; SQLite file in WAL mode, one session per message",
            "total": "screen + dedupe, per message (the checks without the database write)",
            "total_with_persist": "screen + dedupe + persist, per message",
            "total_back_to_back": "screen + dedupe again, for fresh messages one after another with no "
            "database work between them (warm caches)",
            "not_measured": "HTTP, the handler's process",
        },
        "unit": "microseconds per message",
        "target_p50_us": 150,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "results": [asdict(result) for result in results],
    }


def table(report: dict[str, Any]) -> str:
    header = f"{'action':<9} {'bytes':>6} {'n':>6}  {'part':<16} {'p50 µs':>8} {'p99 µs':>8} {'mean µs':>8}"
    lines = [header, "-" * len(header)]
    for result in report["results"]:
        for part in PARTS:
            timing = result[part]
            first = part == PARTS[0]
            lines.append(
                f"{result['action'] if first else '':<9} {result['body_bytes'] if first else '':>6} "
                f"{result['iterations'] if first else '':>6}  {PART_LABELS.get(part, part):<16} "
                f"{timing['p50']:>8.1f} {timing['p99']:>8.1f} {timing['mean']:>8.1f}"
            )
    machine = report["machine"]
    load = machine.get("load_average")
    lines.append(
        "total no persist = screen + dedupe; total + persist = the whole acceptance of a message;\n"
        "total back2back = screen + dedupe with no database work between messages (warm caches)"
    )
    lines.append(
        f"{machine['cpu']}, {machine['cores']} cores, Python {machine['python']}, SQLite {machine['sqlite']}"
        + (f", load average {' '.join(str(value) for value in load)} at start" if load else "")
    )
    return "\n".join(lines)
