"""One run of a network: bring it up, do something with it, and stop everything, whatever happens.

A child that dies, Ctrl-C (SIGINT), SIGTERM and our own errors all end in the same place: every
process started is stopped (devices, then participants, then the registry and NATS) before we return.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx

from participant.network.launch import LaunchError, bring_up
from participant.network.plan import NetworkPlan
from participant.network.supervisor import ChildFailed, Supervisor

INTERRUPTED = 130


@dataclass
class RunningNetwork:
    plan: NetworkPlan
    supervisor: Supervisor
    client: httpx.AsyncClient


Body = Callable[[RunningNetwork], Awaitable[int]]
Say = Callable[[str], None]


def role_free_environment() -> dict[str, str]:
    """Our environment without role settings: the network description alone says how its parts run."""
    import os

    prefixes = ("DEGFLEX_BAP_", "DEGFLEX_BPP_", "DEGFLEX_REGISTRY_", "DEGFLEX_PEER_")
    return {name: value for name, value in os.environ.items() if not name.startswith(prefixes)}


async def run_network(plan: NetworkPlan, body: Body, *, say: Say, error: Say) -> int:
    """Up, `body`, down. Exit code: body's, 1 when a part failed, 130 when interrupted."""
    supervisor = Supervisor(env=role_free_environment())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with httpx.AsyncClient(timeout=30.0) as client:
            running = RunningNetwork(plan, supervisor, client)
            return await _race(running, body, stop, say, error)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if supervisor.children:
            say("stopping every process started …")
            with _ignoring_interrupts():
                supervisor.stop_all()
            left = supervisor.alive()
            if left:
                error("still running: " + ", ".join(f"{child.name} (pid {child.pid})" for child in left))


async def _race(running: RunningNetwork, body: Body, stop: asyncio.Event, say: Say, error: Say) -> int:
    async def work() -> int:
        await bring_up(running.plan, running.supervisor, running.client, say)
        return await body(running)

    main = asyncio.ensure_future(work())
    stopped = asyncio.ensure_future(stop.wait())
    watcher = asyncio.ensure_future(running.supervisor.watch())
    try:
        done, _ = await asyncio.wait({main, stopped, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if main in done:
            try:
                return main.result()
            except ChildFailed as failure:
                error(failure.describe())
                return 1
            except LaunchError as exc:
                error(str(exc))
                return 1
        if watcher in done:
            error(watcher.result().describe())
            return 1
        say("interrupted")
        return INTERRUPTED
    finally:
        for task in (main, stopped, watcher):
            task.cancel()
        await asyncio.gather(main, stopped, watcher, return_exceptions=True)


@contextlib.contextmanager
def _ignoring_interrupts() -> Iterator[None]:
    """A second Ctrl-C must not cut the shutdown short and leave processes behind."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def print_error(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
