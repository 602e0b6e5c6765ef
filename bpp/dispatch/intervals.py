"""The metering grid: fixed-length intervals counted from the Unix epoch, so every device's buckets, every
event's intervals and every prior day's intervals line up (the interval divides a day).

An event is measured over the whole intervals inside its window; a window that does not start or end on
the grid loses its partial intervals at the edges (docs/dispatch.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_start(moment: datetime, size: timedelta) -> datetime:
    """The start of the interval holding `moment`."""
    return EPOCH + ((moment - EPOCH) // size) * size


def grid_ceiling(moment: datetime, size: timedelta) -> datetime:
    start = bucket_start(moment, size)
    return start if start == moment else start + size


def measured_span(start: datetime, end: datetime, size: timedelta) -> tuple[datetime, datetime] | None:
    """The whole intervals inside [start, end), or None when not even one fits."""
    first, last = grid_ceiling(start, size), bucket_start(end, size)
    return (first, last) if first < last else None


def completed(span: tuple[datetime, datetime], size: timedelta, now: datetime) -> int:
    """How many intervals of `span` have ended by `now`."""
    start, end = span
    if now <= start:
        return 0
    return min((now - start) // size, (end - start) // size)
