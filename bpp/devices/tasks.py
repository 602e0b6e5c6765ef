"""Stopping background tasks for sure.

On Python 3.11 a cancellation can be lost inside third-party awaits (`asyncio.wait_for` racing a result,
libraries turning CancelledError into their own errors), leaving a task alive that was told to stop. So
cancel, wait a little, and cancel again whatever is still running.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[object] | asyncio.Task[None]], *, patience: float = 1.0
) -> None:
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=patience)
