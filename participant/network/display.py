"""Showing the demo's progress: a live table with progress bars on a terminal, plain lines elsewhere
(CI logs, pipes), so the output stays readable wherever it ends up.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Protocol, Self, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from participant.network.progress import SYMBOLS, PhaseState, Status, Tracker, phase_line

STYLES = {
    Status.PENDING: "dim",
    Status.RUNNING: "yellow",
    Status.DONE: "green",
    Status.FAILED: "bold red",
    Status.UNAVAILABLE: "dim",
}


class Display(Protocol):
    def say(self, text: str) -> None: ...

    def refresh(self, tracker: Tracker) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class PlainDisplay:
    """A line per change of a phase, and every message as it comes."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._shown: dict[str, tuple[Status, str]] = {}

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def refresh(self, tracker: Tracker) -> None:
        """Phases in order, up to the first one that has not started."""
        for state in tracker.phases.values():
            if state.status is Status.PENDING:
                break
            key = (state.status, state.detail)
            if self._shown.get(state.phase) == key:
                continue
            self._shown[state.phase] = key
            self.say(phase_line(state))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class LiveDisplay:
    """A table of phases with bars, redrawn in place; messages scroll above it."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self._tracker: Tracker | None = None
        self._live = Live(self._render(), console=self.console, refresh_per_second=8, transient=False)

    def say(self, text: str) -> None:
        self._live.console.print(Text(text))

    def refresh(self, tracker: Tracker) -> None:
        self._tracker = tracker
        self._live.update(self._render())

    def _render(self) -> RenderableType:
        table = Table(box=None, show_header=False, pad_edge=False, expand=False)
        table.add_column(width=1)
        table.add_column(min_width=17)
        table.add_column(width=26)
        table.add_column()
        if self._tracker is None:
            return Group(Text("starting …", style="dim"))
        for state in self._tracker.phases.values():
            table.add_row(
                Text(SYMBOLS[state.status], style=STYLES[state.status]),
                Text(str(state.phase), style=STYLES[state.status]),
                _bar(state),
                Text(state.detail or ("" if state.status is not Status.UNAVAILABLE else str(state.status))),
            )
        return table

    def __enter__(self) -> Self:
        self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._live.stop()


def _bar(state: PhaseState) -> RenderableType:
    if state.total is None or state.done is None:
        return Text("")
    total = float(state.total) or 1.0
    return ProgressBar(total=total, completed=min(float(state.done), total), width=24)


def choose_display(*, plain: bool) -> Display:
    """The live table only where someone watches a terminal."""
    if plain or not sys.stdout.isatty():
        return PlainDisplay()
    return LiveDisplay()
