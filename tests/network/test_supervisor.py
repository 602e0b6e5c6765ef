"""The supervisor: children start, are watched, and are always stopped, the stubborn ones too."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest

from participant.network.supervisor import ChildFailed, ProcessSpec, Supervisor
from tests.support.servers import wait_until

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(600)"]
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); "
    "time.sleep(600)",
]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_every_child_is_stopped_in_tiers(tmp_path: Path) -> None:
    supervisor = Supervisor()
    children = [
        supervisor.start(ProcessSpec(f"part-{tier}", SLEEPER, tmp_path / f"{tier}.log", tier=tier))
        for tier in (0, 1, 2)
    ]
    assert all(child.exited() is None for child in children)
    supervisor.stop_all(patience=5)
    assert not supervisor.alive()
    assert all(not alive(child.pid) for child in children)


def test_a_child_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    supervisor = Supervisor()
    child = supervisor.start(ProcessSpec("stubborn", STUBBORN, tmp_path / "s.log"))
    log = tmp_path / "s.log"
    wait_until(lambda: "up" in log.read_text(), what="the child to ignore SIGTERM")
    supervisor.stop_all(patience=0.5)
    assert child.exited() is not None


def test_a_child_that_dies_is_reported_with_its_log(tmp_path: Path) -> None:
    supervisor = Supervisor()
    failing = [sys.executable, "-c", "import sys; print('cannot bind 127.0.0.1:8000'); sys.exit(3)"]
    supervisor.start(ProcessSpec("bap", failing, tmp_path / "bap.log"))

    async def watch() -> ChildFailed:
        return await supervisor.watch(interval=0.05)

    failure = asyncio.run(watch())
    assert failure.name == "bap" and "code 3" in failure.reason
    assert "cannot bind 127.0.0.1:8000" in failure.describe()
    supervisor.stop_all()


def test_a_child_that_exits_while_starting_fails_its_readiness(tmp_path: Path) -> None:
    supervisor = Supervisor()
    failing = [sys.executable, "-c", "print('bad settings'); raise SystemExit(2)"]
    child = supervisor.start(
        ProcessSpec("bpp", failing, tmp_path / "bpp.log", health_url="http://127.0.0.1:9/")
    )

    async def ready() -> None:
        async with httpx.AsyncClient() as client:
            await child.wait_ready(30, client)

    with pytest.raises(ChildFailed, match="exited with code 2 while starting") as caught:
        asyncio.run(ready())
    assert "bad settings" in caught.value.log_tail


def test_children_run_in_their_own_session(tmp_path: Path) -> None:
    """A Ctrl-C on the terminal reaches the supervisor only, which then stops the parts in order."""
    supervisor = Supervisor()
    child = supervisor.start(ProcessSpec("part", SLEEPER, tmp_path / "p.log"))
    try:
        assert os.getsid(child.pid) == child.pid != os.getsid(0)
    finally:
        supervisor.stop_all()
