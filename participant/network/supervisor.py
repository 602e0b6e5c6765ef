"""Child processes of `degflex up` / `degflex demo`: started, watched, and always stopped.

Every child runs in its own session, so a Ctrl-C reaches only us and we stop the parts in order (devices
before their BPP, participants before the registry and NATS); on Linux each child also gets SIGTERM if
we die without cleaning up (`PR_SET_PDEATHSIG`), so no run leaves orphans behind.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PR_SET_PDEATHSIG = 1
STOP_PATIENCE = 10.0
TAIL_LINES = 25


class ChildFailed(Exception):
    """A child exited or never became ready; the message carries the tail of its log."""

    def __init__(self, name: str, reason: str, log_tail: str) -> None:
        self.name = name
        self.reason = reason
        self.log_tail = log_tail
        super().__init__(f"{name} {reason}")

    def describe(self) -> str:
        lines = [f"{self.name} {self.reason}"]
        if self.log_tail:
            lines += ["--- last lines of its log ---", self.log_tail.rstrip(), "---"]
        return "\n".join(lines)


@dataclass(frozen=True)
class ProcessSpec:
    """One part to run: its command, extra environment, log file, and where it says it is ready."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    health_url: str | None = None
    tier: int = 0
    """Parts stop by tier, highest first: devices (2) before participants (1) before infrastructure (0)."""


def degflex_command(*args: str) -> list[str]:
    """`degflex …` run with this very interpreter, so a child uses the same installation as we do."""
    return [sys.executable, "-m", "participant.cli", *args]


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM when the process that started it goes away."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        return  # not Linux: the supervisor's own shutdown still stops its children


def log_tail(path: Path, lines: int = TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class Child:
    """A running part."""

    def __init__(self, spec: ProcessSpec, process: subprocess.Popen[bytes]) -> None:
        self.spec = spec
        self.process = process

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self.process.pid

    def exited(self) -> int | None:
        return self.process.poll()

    def failure(self, reason: str) -> ChildFailed:
        return ChildFailed(self.name, reason, log_tail(self.spec.log_path))

    async def wait_ready(self, timeout: float, client: httpx.AsyncClient) -> None:
        """Until its health URL answers 200; ChildFailed when it exits or the time is up."""
        deadline = time.monotonic() + timeout
        while True:
            code = self.exited()
            if code is not None:
                raise self.failure(f"exited with code {code} while starting")
            if self.spec.health_url is None or await _healthy(client, self.spec.health_url):
                return
            if time.monotonic() > deadline:
                raise self.failure(f"was not ready within {timeout:.0f} s ({self.spec.health_url})")
            await asyncio.sleep(0.1)

    def terminate(self) -> None:
        if self.exited() is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.exited() is None:
            self.process.kill()


async def _healthy(client: httpx.AsyncClient, url: str) -> bool:
    try:
        response = await client.get(url, timeout=1.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


class Supervisor:
    """Starts children and stops them in reverse order; `check()` reports the first one that died."""

    def __init__(self, *, env: Mapping[str, str] | None = None) -> None:
        self.children: list[Child] = []
        self.base_env = dict(os.environ if env is None else env)
        self.on_start: Callable[[Child], None] | None = None

    def start(self, spec: ProcessSpec) -> Child:
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.log_path, "ab") as log:
            process = subprocess.Popen(
                list(spec.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**self.base_env, **spec.env},
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
            )
        child = Child(spec, process)
        self.children.append(child)
        if self.on_start is not None:
            self.on_start(child)
        return child

    def check(self) -> None:
        """Raise ChildFailed for the first child that exited on its own."""
        for child in self.children:
            code = child.exited()
            if code is not None:
                raise child.failure(f"exited unexpectedly with code {code}")

    async def watch(self, interval: float = 0.5) -> ChildFailed:
        """Return (not raise) the first child failure, however long that takes."""
        while True:
            try:
                self.check()
            except ChildFailed as failure:
                return failure
            await asyncio.sleep(interval)

    def stop_all(self, patience: float = STOP_PATIENCE) -> None:
        """SIGTERM tier by tier (all of a tier at once), `patience` seconds each, then SIGKILL."""
        for tier in sorted({child.spec.tier for child in self.children}, reverse=True):
            group = [child for child in self.children if child.spec.tier == tier]
            for child in group:
                child.terminate()
            deadline = time.monotonic() + patience
            for child in group:
                try:
                    child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.process.wait(timeout=patience)

    def alive(self) -> list[Child]:
        return [child for child in self.children if child.exited() is None]
