"""`degflex demo` as a person runs it: a real subprocess with every part a real process, in under two
minutes; its summary is checked against the databases, every recorded message against the official
Beckn core 1.1.1 spec and every recorded signature against the registry's keys. Nothing is left running.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from participant.network.demo_network import AGGREGATORS, dispatch_available
from registry_client.signing import SignatureHeader, verify_signature
from tests.network.test_up import environment, processes_using
from tests.support.conformance import assert_conforms
from tests.support.servers import REPO_ROOT

pytestmark = pytest.mark.slow

DEMO_LIMIT_S = 120.0


@dataclass(frozen=True)
class DemoRun:
    directory: Path
    summary: dict[str, Any]
    record: Path
    output: str
    seconds: float


def demo_command(directory: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "participant.cli", "demo", "--plain", "--directory", str(directory), *extra]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    base = tmp_path_factory.mktemp("demo")
    directory, summary, record = base / "network", base / "summary.json", base / "record"
    started = time.monotonic()
    result = subprocess.run(
        demo_command(directory, "--json", str(summary), "--record", str(record)),
        capture_output=True,
        text=True,
        timeout=DEMO_LIMIT_S + 60,
        cwd=REPO_ROOT,
        env=environment(),
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, f"demo failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return DemoRun(directory, json.loads(summary.read_text()), record, result.stdout, seconds)


def rows(database: Path, query: str) -> list[sqlite3.Row]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        return list(connection.execute(query))
    finally:
        connection.close()


def test_the_demo_finishes_in_under_two_minutes_and_leaves_nothing_running(demo: DemoRun) -> None:
    assert demo.seconds < DEMO_LIMIT_S, demo.output[-3000:]
    assert demo.summary["demo"]["ok"] is True
    assert not processes_using(demo.directory)
    assert "✓ orders" in demo.output and "Summary (read back from" in demo.output


def test_the_summary_agrees_with_the_databases(demo: DemoRun) -> None:
    event_id = demo.summary["event"]["event_id"]
    bap_orders = rows(
        demo.directory / "db" / "utility.bap.db",
        f"SELECT * FROM bap_orders WHERE event_id = '{event_id}' AND bpp_order_id IS NOT NULL",
    )
    assert len(bap_orders) >= 2, "both aggregators on TX-17 are needed for 80 kW"
    by_id = {order["order_id"]: order for order in demo.summary["orders"]}
    bpp_orders: dict[str, sqlite3.Row] = {}
    for aggregator in AGGREGATORS:
        for row in rows(demo.directory / "db" / f"{aggregator.subscriber_id}.db", "SELECT * FROM bpp_orders"):
            bpp_orders[row["id"]] = row
    committed = Decimal(0)
    for row in bap_orders:
        reported = by_id[row["id"]]
        assert reported["aggregator_id"] == row["aggregator_id"]
        assert Decimal(reported["committed_kw"]) == Decimal(str(row["committed_kw"]))
        bpp_row = bpp_orders[row["bpp_order_id"]]
        assert Decimal(str(bpp_row["kw"])) == Decimal(str(row["committed_kw"])), "both sides agree on kW"
        assert reported["bpp"]["committed_kw"] is not None
        committed += Decimal(str(row["committed_kw"]))
        if dispatch_available():
            assert reported["delivered_kw"] is not None
            assert Decimal(reported["delivered_kw"]) == Decimal(str(row["delivered_kw"]))
            assert reported["devices_acked"] == row["devices_acked"]
            assert Decimal(reported["settlement_amount"]) == Decimal(str(row["net_amount"]))
    assert Decimal(demo.summary["totals"]["committed_kw"]) == committed
    assert committed >= Decimal(80), "the need is covered"
    assert set(demo.summary["aggregators"]) == {row["aggregator_id"] for row in bap_orders}
    assert "gamma.aggregator" not in demo.summary["aggregators"], "gamma is on another feeder"


def test_later_phases_are_reported_as_this_build_has_them(demo: DemoRun) -> None:
    phases = demo.summary["demo"]["phases"]
    assert phases["orders"]["status"] == "done"
    later = ("dispatch", "acknowledgements", "delivery", "settlement")
    if dispatch_available():
        assert all(phases[name]["status"] == "done" for name in later), phases
        assert demo.summary["totals"]["devices_acked"] > 0
        assert Decimal(demo.summary["totals"]["delivered_kw"]) > 0
        assert Decimal(demo.summary["totals"]["settlement_amount"]) > 0
    else:
        assert all(phases[name]["status"] == "not available in this build" for name in later)


def recorded(demo: DemoRun) -> list[dict[str, Any]]:
    lines = []
    for path in sorted(demo.record.glob("*.jsonl")):
        lines += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return lines


def test_every_recorded_message_conforms_to_the_core_spec(demo: DemoRun) -> None:
    lines = recorded(demo)
    files = {path.name for path in demo.record.iterdir()}
    assert files == {
        "subscribers.json",
        "utility.bap.jsonl",
        *(f"{a.subscriber_id}.jsonl" for a in AGGREGATORS),
    }
    actions = {line["action"] for line in lines}
    assert {
        "search",
        "on_search",
        "select",
        "on_select",
        "init",
        "on_init",
        "confirm",
        "on_confirm",
    } <= actions
    for line in lines:
        assert {"participant", "direction", "action", "headers", "body"} <= set(line)
        assert_conforms(json.loads(line["body"]))


def test_every_recorded_signature_verifies_with_the_registry_keys(demo: DemoRun) -> None:
    subscribers = json.loads((demo.record / "subscribers.json").read_text())
    assert {entry["type"] for entry in subscribers} == {"BAP", "BPP"}
    keys = {
        (entry["subscriber_id"], entry["unique_key_id"]): entry["signing_public_key"] for entry in subscribers
    }
    checked = 0
    for line in recorded(demo):
        authorization = line["headers"].get("authorization")
        if line["direction"] == "out" and line.get("attempt") is None:
            continue  # never sent, so never signed
        assert authorization, f"{line['participant']} {line['direction']} {line['action']} has no signature"
        header = SignatureHeader.parse(authorization)
        subscriber_id, unique_key_id, _ = header.key_id.split("|")
        body = line["body"].encode("utf-8")
        verify_signature(body, header, keys[(subscriber_id, unique_key_id)], now=float(header.created))
        checked += 1
    assert checked > 20


def test_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    directory = tmp_path / "network"
    process = subprocess.Popen(
        demo_command(directory),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO_ROOT,
        env=environment(),
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "network" in line and "participants:" in line:
            break
    assert processes_using(directory), "the network was started"
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, "".join(seen) + output
    assert "stopping every process started" in output
    assert not processes_using(directory)
