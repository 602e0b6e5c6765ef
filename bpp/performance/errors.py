"""The exception tree of `bpp.performance`."""

from __future__ import annotations


class PerformanceError(Exception):
    """Base of every error raised by the measurement and settlement arithmetic."""


class BaselineUnavailable(PerformanceError):
    """The device's history cannot support the baseline asked for; `reason` says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidWindow(PerformanceError, ValueError):
    """An event window that is not a whole, positive number of timezone-aware intervals."""


class InconsistentInputs(PerformanceError, ValueError):
    """Figures that must describe the same event (window, interval, tolerance) do not."""
