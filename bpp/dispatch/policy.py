"""The dispatcher's timing and allocation knobs, taken from `BppSettings` (docs/dispatch.md explains each)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

DAY = timedelta(days=1)


@dataclass(frozen=True)
class DispatchPolicy:
    lead_time: timedelta = timedelta(minutes=5)
    """Commands are published this long before the event starts."""
    ack_timeout: timedelta = timedelta(seconds=60)
    """A device that says nothing this long after a command reached it (or after its start) is silent."""
    settle_grace: timedelta = timedelta(minutes=2)
    """After the end, how long (counted while the BPP hears NATS) devices have for their final acks before
    the event is measured and settled regardless; it is measured sooner once every device has sent one."""
    report_interval: timedelta = timedelta(minutes=15)
    """Progress on_status to the utility while the event runs."""
    metering_interval: timedelta = timedelta(minutes=15)
    """Telemetry is kept per device in buckets of this length, and events are measured on them."""
    opt_out_headroom: Decimal = Decimal("0.1")
    """Allocate committed × (1 + headroom) when spare devices exist, so a few opt-outs change nothing."""
    device_stale_after: timedelta = timedelta(minutes=15)
    """A device not heard from this long is called only after every device that was."""
    telemetry_retention: timedelta = timedelta(days=46)
    """Buckets older than this are deleted (X-of-Y looks back 45 days)."""

    def __post_init__(self) -> None:
        if self.metering_interval <= timedelta(0) or DAY % self.metering_interval:
            raise ValueError("metering_interval must divide a day (e.g. 10 s, 1 min, 5 min, 15 min)")
        if self.ack_timeout <= timedelta(0) or self.report_interval <= timedelta(0):
            raise ValueError("ack_timeout and report_interval must be positive")
        if self.settle_grace <= timedelta(0):
            raise ValueError("dispatch_settle_grace must be positive")
        if self.lead_time < timedelta(0):
            raise ValueError("lead_time must not be negative")
        if not Decimal(0) <= self.opt_out_headroom <= Decimal(1):
            raise ValueError("opt_out_headroom must be between 0 and 1")

    @property
    def report_ttl(self) -> timedelta:
        """Unsolicited reports stay worth delivering until the next one is due."""
        return max(self.report_interval, timedelta(seconds=30))
