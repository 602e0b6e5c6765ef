"""The network `degflex demo` runs: one utility, three aggregators and a few hundred simulated devices.

Two aggregators sit on the stressed transformer (alpha is cheaper but can sell only 60 kW, so the
recommendation has to weigh it against beta); gamma is cheapest of all but on another feeder, so it
answers the search with nothing to sell. Time is compressed: offers need 10 s of notice, the event
starts `lead` after the alert and lasts `duration`, commands go out 5 s before the start, a device
silent for 5 s counts as silent, and progress is metered and reported every 10 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bpp.settings import BppSettings
from participant.network.spec import NetworkSpec

STRESSED_NODE = "transformer:TX-17"
CAPACITY_KW = Decimal(500)
LOAD_KW = Decimal(430)


@dataclass(frozen=True)
class Aggregator:
    subscriber_id: str
    name: str
    grid_node: str
    devices: int
    price_per_kwh: str
    max_kw: int
    mix: str


AGGREGATORS = (
    Aggregator(
        "alpha.aggregator", "Alpha Home Energy", STRESSED_NODE, 120, "0.20", 60, "battery=2,load=2,ev=1"
    ),
    Aggregator("beta.aggregator", "Beta Flex", STRESSED_NODE, 100, "0.28", 250, "battery=3,load=5,ev=2"),
    Aggregator("gamma.aggregator", "Gamma Grid Services", "feeder:F-3", 80, "0.15", 200, "battery=1,load=1"),
)


@dataclass(frozen=True)
class Timeline:
    """The demo's compressed clock."""

    lead: timedelta = timedelta(seconds=20)
    """From the grid alert to the start of the event window."""
    duration: timedelta = timedelta(seconds=60)
    report_interval: timedelta = timedelta(seconds=10)
    need_kw: Decimal = Decimal(80)

    @property
    def forecast_peak_kw(self) -> Decimal:
        """The BAP wants the transformer at 90 % of its capacity: peak − 0.9 × capacity = the need."""
        return CAPACITY_KW * Decimal("0.9") + self.need_kw


def dispatch_available() -> bool:
    """Whether this build's BPP commands devices (the dispatcher brings NATS settings to the BPP)."""
    return "nats_url" in BppSettings.model_fields


def _offer(aggregator: Aggregator) -> dict[str, Any]:
    return {
        "grid_node": aggregator.grid_node,
        "direction": "REDUCE",
        "price_per_kwh": aggregator.price_per_kwh,
        "currency": "INR",
        "min_kw": 5,
        "max_kw": aggregator.max_kw,
        "response_time_s": 10,
        "min_notice_s": 10,
        "max_duration_s": 3600,
        "max_events_per_day": 96,
        "baseline_method": "METER_BEFORE_AFTER",
        "cancel_before_s": 0,
        "cancellation_fee": "0",
        "reliability_headroom": "0.1",
    }


def _bpp_settings(timeline: Timeline) -> dict[str, Any]:
    wanted: dict[str, Any] = {
        "callback_on_empty_search": True,
        "outbox_poll_seconds": 0.2,
        "report_interval": timeline.report_interval.total_seconds(),
        "metering_interval": timeline.report_interval.total_seconds(),
        "dispatch_lead_time": 5.0,
        "ack_timeout": 5.0,
        "dispatch_settle_grace": 10.0,  # a device that never finishes must not hold the demo's settlement
        "dispatch_poll_seconds": 0.5,
    }
    known = BppSettings.model_fields
    return {name: value for name, value in wanted.items() if name in known}


def demo_network(timeline: Timeline, *, seed: int = 7) -> NetworkSpec:
    """Everything on loopback, on free ports, in the demo's directory."""
    bpps = []
    for index, aggregator in enumerate(AGGREGATORS):
        bpps.append(
            {
                "subscriber_id": aggregator.subscriber_id,
                "provider_name": aggregator.name,
                "offers": [_offer(aggregator)],
                "fleets": [
                    {
                        "grid_node": aggregator.grid_node,
                        "count": aggregator.devices,
                        "mix": aggregator.mix,
                        "seed": seed + index,
                        "id_prefix": aggregator.subscriber_id.split(".")[0],
                        "telemetry_interval": 5.0,
                        "time_scale": 0.5,
                        "opt_out_rate": 0.05,
                    }
                ],
                "settings": _bpp_settings(timeline),
            }
        )
    bap = {
        "subscriber_id": "utility.bap",
        "settings": {
            "collection_seconds": 5.0,
            "activation_timeout_seconds": 10.0,
            "scheduler_poll_seconds": 0.5,
            "outbox_poll_seconds": 0.2,
            "billing_name": "Demo Power Utility",
        },
    }
    return NetworkSpec.model_validate({"nats": {}, "baps": [bap], "bpps": bpps})


def device_count() -> int:
    return sum(aggregator.devices for aggregator in AGGREGATORS)
