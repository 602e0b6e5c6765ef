"""`degflex demo --interactive` and `--keep-running` as a person runs them: the demo waits for an
operator's `yes, proceed` on the console WebSocket (or typed at its terminal), does not activate on
anything else, and with `--keep-running` leaves a network whose printed addresses answer until Ctrl-C
stops every process it started.
"""

from __future__ import annotations

import queue
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from tests.bap.console import Console
from tests.e2e.test_demo import demo_command
from tests.network.test_up import environment, processes_using
from tests.support.servers import REPO_ROOT

pytestmark = pytest.mark.slow

PROMPT = "type it here, or on the console WebSocket"
START_LIMIT_S = 90.0
"""From launch to the approval prompt: the network, 300 devices, discovery and the recommendation."""
EVENT_LIMIT_S = 240.0
"""From approval to the summary: the interactive event starts two minutes after the alert, lasts 60 s."""


class Output:
    """A child's output lines, read by a thread, so a test can wait for a line with a time limit."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stdout = process.stdout
        threading.Thread(target=self._read, name="demo-output", daemon=True).start()

    def _read(self) -> None:
        for line in self._stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, wanted: Callable[[str], bool], timeout: float, what: str) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {what} within {timeout:.0f} s:\n" + self.text()) from None
            if line is None:
                raise AssertionError(f"the demo ended before {what}:\n" + self.text())
            self.lines.append(line)
            if wanted(line):
                return line

    def rest(self, timeout: float) -> str:
        """Everything up to the end of the output."""
        deadline = time.monotonic() + timeout
        try:
            while (line := self._queue.get(timeout=max(0.0, deadline - time.monotonic()))) is not None:
                self.lines.append(line)
        except queue.Empty:
            raise AssertionError(f"the demo did not end within {timeout:.0f} s:\n" + self.text()) from None
        return self.text()

    def text(self) -> str:
        return "\n".join(self.lines[-80:])


@contextmanager
def interactive_demo(directory: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[str], Output]]:
    process = subprocess.Popen(
        demo_command(directory, "--interactive", *extra),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO_ROOT,
        env=environment(),
    )
    try:
        yield process, Output(process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


def bap_of(directory: Path) -> tuple[str, dict[str, str]]:
    """The demo BAP's local URL and its operator's headers, from the files the demo wrote."""
    config = yaml.safe_load((directory / "config" / "utility.bap.yaml").read_text())
    token = (directory / "keys" / "utility.bap-operator.token").read_text().strip()
    return f"http://127.0.0.1:{config['port']}", {"Authorization": f"Bearer {token}"}


def the_event(bap: str, headers: dict[str, str]) -> dict[str, object]:
    events = httpx.get(f"{bap}/api/flex-requests", headers=headers).json()
    assert len(events) == 1, events
    event: dict[str, object] = events[0]
    return event


def orders(bap: str, headers: dict[str, str]) -> list[object]:
    response = httpx.get(f"{bap}/api/orders", headers=headers)
    assert response.status_code == 200, response.text
    found: list[object] = response.json()
    return found


def type_line(process: subprocess.Popen[str], text: str) -> None:
    assert process.stdin is not None
    process.stdin.write(text + "\n")
    process.stdin.flush()


def addresses(lines: list[str]) -> dict[str, str]:
    """The rows printed after 'the network keeps running': what → the first URL on the row."""
    start = next(index for index, line in enumerate(lines) if "the network keeps running" in line)
    rows = {}
    for line in lines[start + 1 :]:
        what, _, where = line.strip().partition("  ")
        rows[what.strip()] = where.strip().split()[0] if where.strip() else ""
    return rows


def nats_answers(url: str) -> bool:
    """A NATS server greets every client with `INFO {…}`."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        return sock.recv(4096).startswith(b"INFO ")


@pytest.mark.timeout(START_LIMIT_S + EVENT_LIMIT_S + 120)
def test_the_operator_approves_on_the_websocket_and_the_network_keeps_running(tmp_path: Path) -> None:
    directory = tmp_path / "network"
    with interactive_demo(directory, "--keep-running", "--event-in", "40") as (process, output):
        output.wait_for(lambda line: PROMPT in line, START_LIMIT_S, "approval prompt")
        bap, headers = bap_of(directory)
        assert the_event(bap, headers)["state"] == "AWAITING_APPROVAL"
        assert orders(bap, headers) == [], "nothing is ordered before a person approves"
        assert "the demo operator sent" not in output.text()

        with Console.open(bap, headers["Authorization"].removeprefix("Bearer ")) as console:
            assert console.next()["type"] == "snapshot"
            reply = console.command("yes, proceed")
        assert reply["type"] == "reply" and reply["data"]["ok"], reply

        output.wait_for(lambda line: line.startswith("✓ approval") and "approved" in line, 30, "approval")
        output.wait_for(lambda line: "the network keeps running" in line, EVENT_LIMIT_S, "the summary")
        output.wait_for(lambda line: "files (keys, configs" in line, 10, "every address")
        text = output.text()
        assert "✓ settlement" in text and "demo finished" in text, text
        rows = addresses(output.lines)

        answering = {}
        for what, url in rows.items():
            if what.endswith(" API"):
                answering[what] = httpx.get(url.removesuffix("/api") + "/health").status_code
            elif what.endswith(" console"):
                answering[what] = httpx.get(url).status_code
            elif what == "registry":
                answering[what] = httpx.get(url.removesuffix("/lookup") + "/health").status_code
            elif what == "NATS monitoring":
                answering[what] = httpx.get(f"{url}/healthz").status_code
            elif what == "NATS":
                answering[what] = 200 if nats_answers(url) else 0
        expected = {
            "utility.bap console",
            "utility.bap API",
            "alpha.aggregator API",
            "beta.aggregator API",
            "gamma.aggregator API",
            "registry",
            "NATS",
            "NATS monitoring",
        }
        assert set(answering) == expected, rows
        assert all(code == 200 for code in answering.values()), answering
        assert process.poll() is None, "the network keeps running after the summary"
        assert len(processes_using(directory)) >= 8, "nats, registry, 4 participants, 3 simulators"

        process.send_signal(signal.SIGINT)
        text = output.rest(60)
        assert process.wait(timeout=10) == 0, text
    assert "stopping every process started" in text
    assert not processes_using(directory)


def bap_rows(directory: Path, query: str) -> list[sqlite3.Row]:
    connection = sqlite3.connect(f"file:{directory / 'db' / 'utility.bap.db'}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        return list(connection.execute(query))
    finally:
        connection.close()


@pytest.mark.timeout(START_LIMIT_S + 120)
def test_lines_typed_at_the_terminal_reach_the_console_and_no_declines(tmp_path: Path) -> None:
    directory = tmp_path / "network"
    with interactive_demo(directory) as (process, output):
        output.wait_for(lambda line: PROMPT in line, START_LIMIT_S, "approval prompt")
        bap, headers = bap_of(directory)

        type_line(process, "maybe later")
        output.wait_for(lambda line: line.startswith("console: "), 30, "the console's answer")
        assert the_event(bap, headers)["state"] == "AWAITING_APPROVAL", "an unknown answer changes nothing"

        type_line(process, "no")
        text = output.rest(60)
        assert process.wait(timeout=10) == 1, text
    assert "✗ approval" in text and "reason: approval: declined" in text, text
    assert not processes_using(directory)
    events = bap_rows(directory, "SELECT state, decided_by FROM bap_flex_events")
    assert [(row["state"], row["decided_by"]) for row in events] == [("DECLINED", "network-admin")]
    assert bap_rows(directory, "SELECT id FROM bap_orders") == [], "a declined event orders nothing"


@pytest.mark.parametrize("given", ["5", "soon"])
def test_an_event_too_soon_or_not_a_number_is_refused_before_anything_starts(
    given: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from participant.cli import main

    with pytest.raises(SystemExit) as refused:
        main(["demo", "--event-in", given, "--directory", str(tmp_path / "network")])
    assert refused.value.code == 2
    assert "--event-in" in capsys.readouterr().err
    assert not (tmp_path / "network").exists()
