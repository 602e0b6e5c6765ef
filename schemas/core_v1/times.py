"""Time in its Beckn forms: an instant, a duration, a range (a flexibility event window) or a schedule.

Durations here stay free text as peers send them (ISO 8601 by the spec; use `parse_duration` to read).
"""

from __future__ import annotations

from schemas.core_v1.base import BecknModel, Timestamp


class TimeRange(BecknModel):
    start: Timestamp | None = None
    end: Timestamp | None = None


class Schedule(BecknModel):
    frequency: str | None = None
    holidays: list[Timestamp] | None = None
    times: list[Timestamp] | None = None


class Time(BecknModel):
    label: str | None = None
    timestamp: Timestamp | None = None
    duration: str | None = None
    range: TimeRange | None = None
    days: str | None = None
    schedule: Schedule | None = None
