"""`degflex up network.yaml` as a real process: starts every part, stops them all on SIGINT/SIGTERM,
says which part failed (with its log) when one cannot start, and refuses a bad file before starting."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.servers import free_port

pytestmark = pytest.mark.slow


def up_command(path: Path) -> list[str]:
    return [sys.executable, "-m", "participant.cli", "up", str(path)]


def environment() -> dict[str, str]:
    prefixes = ("DEGFLEX_BAP_", "DEGFLEX_BPP_", "DEGFLEX_REGISTRY_")
    return {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}


def processes_using(directory: Path) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "status").read_text()
        except OSError:
            continue
        if f"{directory}/" in cmdline and "zombie" not in state:
            found.append(cmdline)
    return found


def small_network(tmp_path: Path, **bap: Any) -> Path:
    data = {
        "directory": "net",
        "registry": {"port": free_port()},
        "baps": [{"subscriber_id": "utility.bap", "port": free_port(), **bap}],
        "bpps": [{"subscriber_id": "alpha.aggregator", "port": free_port()}],
    }
    path = tmp_path / "network.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@contextmanager
def running(path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    process = subprocess.Popen(
        up_command(path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment()
    )
    try:
        yield process, read_until_up(process)
    finally:
        stop(process)


def stop(process: subprocess.Popen[str]) -> None:
    """Kill what a failed test left running and close our end of its pipe."""
    if process.poll() is None:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def read_until_up(process: subprocess.Popen[str]) -> list[str]:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Ctrl-C stops it"):
            return lines
    raise AssertionError("degflex up ended before the network was up:\n" + "".join(lines))


def test_up_starts_every_part_and_stops_them_on_sigterm(tmp_path: Path) -> None:
    path = small_network(tmp_path)
    network = yaml.safe_load(path.read_text())
    directory = tmp_path / "net"
    with running(path) as (process, lines):
        assert any(line.startswith("network up (3 processes)") for line in lines), lines
        bap_port, registry_port = network["baps"][0]["port"], network["registry"]["port"]
        assert httpx.get(f"http://127.0.0.1:{bap_port}/health").status_code == 200
        subscribers = httpx.post(f"http://127.0.0.1:{registry_port}/lookup", json={}).json()
        assert {entry["subscriber_id"] for entry in subscribers} == {"utility.bap", "alpha.aggregator"}
        assert len(processes_using(directory)) == 3
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "stopping every process started" in output
    assert not processes_using(directory)


def test_a_part_that_cannot_start_is_named_with_its_log_and_nothing_is_left(tmp_path: Path) -> None:
    path = small_network(tmp_path)
    port = yaml.safe_load(path.read_text())["baps"][0]["port"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = subprocess.run(
            up_command(path), capture_output=True, text=True, timeout=120, env=environment()
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "utility.bap exited" in result.stderr
    assert "last lines of its log" in result.stderr and "address already in use" in result.stderr
    assert not processes_using(tmp_path / "net")


def test_a_bad_file_is_refused_before_anything_starts(tmp_path: Path) -> None:
    path = small_network(tmp_path, settings={"collection_secs": 3})
    result = subprocess.run(up_command(path), capture_output=True, text=True, timeout=60, env=environment())
    assert result.returncode == 2
    assert f"{path}: baps[0]: settings.collection_secs is not a setting of BapSettings" in result.stderr
    assert not (tmp_path / "net").exists()


def test_check_validates_and_writes_the_configuration_only(tmp_path: Path) -> None:
    path = small_network(tmp_path)
    result = subprocess.run(
        [*up_command(path), "--check"], capture_output=True, text=True, timeout=60, env=environment()
    )
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert (tmp_path / "net" / "config" / "utility.bap.yaml").exists()
    assert not processes_using(tmp_path / "net")
