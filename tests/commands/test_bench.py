"""`degflex bench pipeline`: runs the real pipeline checks, reports figures and the machine they ran on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from participant.cli import main


def test_bench_pipeline_prints_a_table_and_writes_the_json_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "bench.json"

    assert main(["bench", "pipeline", "--iterations", "20", "--output", str(output)]) == 0

    report = json.loads(output.read_text())
    assert [result["action"] for result in report["results"]] == ["search", "confirm"]
    for result in report["results"]:
        assert result["iterations"] == 20
        for part in ("total", "screen", "dedupe", "persist", "total_with_persist", "total_back_to_back"):
            timing = result[part]
            assert 0 < timing["p50"] <= timing["p99"]
        assert result["total"]["mean"] == pytest.approx(
            result["screen"]["mean"] + result["dedupe"]["mean"], abs=0.2
        )
        assert result["total_with_persist"]["mean"] == pytest.approx(
            result["total"]["mean"] + result["persist"]["mean"], abs=0.2
        )
    assert {"cpu", "cores", "python", "sqlite", "load_average"} <= set(report["machine"])
    printed = capsys.readouterr().out
    assert "search" in printed and "confirm" in printed and "p50 µs" in printed
    assert "persist" in printed and "load average" in printed


def test_bench_pipeline_refuses_zero_iterations(tmp_path: Path) -> None:
    assert main(["bench", "pipeline", "--iterations", "0", "--output", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()


def test_bench_dispatch_confirms_an_order_for_a_small_fleet_and_reports_its_rates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "dispatch.json"

    assert main(["bench", "dispatch", "--devices", "40", "--output", str(output)]) == 0

    report = json.loads(output.read_text())
    assert report["devices"] == report["commands"] == report["commands_published"] == 40
    assert report["acks_processed"] == 40 and report["duplicates"] == 0
    assert report["fleet"]["commands"] == 40 and report["fleet"]["acks"].get("RECEIVED") == 40
    assert report["commands_published_per_s"] > 0 and report["acks_processed_per_s"] > 0
    assert 0 < report["confirm_to_last_published_s"] < report["total_s"]
    assert {"cpus", "python", "sqlite", "nats_server", "load_average_before"} <= set(report["machine"])
    captured = capsys.readouterr()
    assert "commands published per second" in captured.out and "acks processed per second" in captured.out
    assert "devices registered" in captured.err and "acks stored" in captured.err


def test_bench_dispatch_refuses_an_empty_fleet(tmp_path: Path) -> None:
    assert main(["bench", "dispatch", "--devices", "0", "--output", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()
