"""Stopping background tasks for sure.

On Python 3.11 a cancellation can be lost inside third-party awaits (`asyncio.wait_for` racing a result,
libraries turning CancelledError into their own errors), leaving a task alive that was told to stop. So
cancel, wait a little, and cancel again whatever is still running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[object] | asyncio.Task[None]], *, patience: float = 1.0
) -> None:
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=patience)


async def unless_stopped(work: Awaitable[None], stop: asyncio.Event) -> bool:
    """Await `work` unless `stop` is set first (then cancel it and say False).

    Connecting waits for NATS as long as it takes; a stop (Ctrl-C) must not wait with it.
    """
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if task.done():
        task.result()
        return True
    await cancel_and_wait([task])
    return False
