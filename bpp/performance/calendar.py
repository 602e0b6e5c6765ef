"""Which prior days may stand in for an event day, and the same wall-clock time on another day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, field_validator

from bpp.performance.intervals import FROZEN


class BaselineCalendar(BaseModel):
    """Business days versus weekends and holidays, in the local time zone of the devices.

    A baseline for a business-day event is built from business days only, and one for a weekend or
    holiday event from weekends and holidays only: load on the two kinds of day differs too much.
    """

    model_config = FROZEN

    skip_weekends: bool = True
    holidays: frozenset[date] = frozenset()
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> tzinfo:
        return ZoneInfo(self.timezone)

    def is_business_day(self, day: date) -> bool:
        return not (self.skip_weekends and day.weekday() >= 5) and day not in self.holidays


def local_date(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def days_earlier(moment: datetime, days: int, zone: tzinfo = UTC) -> datetime:
    """The same local wall-clock time `days` calendar days earlier, in UTC (DST-safe)."""
    local = moment.astimezone(zone)
    earlier = datetime.combine(local.date() - timedelta(days=days), local.time(), tzinfo=zone)
    return earlier.astimezone(UTC)
