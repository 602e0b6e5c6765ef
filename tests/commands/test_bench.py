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
