"""A contract delivered end to end: a utility confirms over signed HTTP, the aggregator commands real device
agents over NATS, they shed load and report, and the utility receives unsolicited on_status progress, the
verdict and the settlement, whose figures add up (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from schemas.core_v1 import Action
from schemas.profile import read_tag_group
from tests.bpp.flex_network import Market, Utility, assert_valid_callback, market, offer, order
from tests.dispatch.factories import aligned, flat_load
from tests.dispatch.network import DeviceNetwork, FleetThread, device_network
from tests.support.servers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

STEP = timedelta(seconds=5)
EVENT_OFFER: dict[str, Any] = {
    "min_notice_s": 0,
    "cancel_before_s": 0,
    "cancellation_fee": "0",
    "max_events_per_day": 96,
    "min_kw": 1,
    "response_time_s": 5,
    "reliability_headroom": "0",
}


@pytest.fixture
def devices(tmp_path: Path) -> Iterator[DeviceNetwork]:
    with device_network(tmp_path) as network:
        yield network


def reports(utility: Utility, transaction_id: str) -> list[dict[str, Any]]:
    """The on_status messages the utility received for the transaction, in the order they arrived."""
    bodies = utility.callbacks(Action.STATUS)
    return [body for body in bodies if body["context"]["transaction_id"] == transaction_id]


def state_of(body: dict[str, Any]) -> str:
    return str(body["message"]["order"]["fulfillments"][0]["state"]["descriptor"]["code"])


def contract(flex: Market, kw: str, window: tuple[datetime, datetime]) -> tuple[str, str]:
    """select → init → confirm; the order id and transaction id."""
    utility, bpp = flex.utility, flex.bpp
    select = utility.send(bpp, Action.SELECT, {"order": order(kw, window)})
    assert select.acked
    utility.callback(select)
    init = utility.send(bpp, Action.INIT, {"order": order(kw, window)}, transaction_id=select.transaction_id)
    assert init.acked
    utility.callback(init)
    confirm = utility.send(
        bpp, Action.CONFIRM, {"order": order(kw, window)}, transaction_id=select.transaction_id
    )
    assert confirm.acked, confirm.response.text
    confirmed = utility.callback(confirm)["message"]["order"]
    return str(confirmed["id"]), select.transaction_id


def wait_for_state(
    flex: Market, transaction_id: str, state: str, *, timeout: float = 60
) -> list[dict[str, Any]]:
    wait_until(
        lambda: state in [state_of(body) for body in reports(flex.utility, transaction_id)],
        timeout=timeout,
        interval=0.1,
        what=f"an unsolicited on_status saying {state}",
    )
    return reports(flex.utility, transaction_id)


def announced(flex: Market, count: int) -> None:
    wait_until(lambda: len(flex.api.get("/api/ders")) == count, what=f"{count} devices announced")


def test_a_confirmed_order_is_delivered_reported_and_settled(
    tmp_path: Path, database_url: str, devices: DeviceNetwork
) -> None:
    fleet = [flat_load(f"dev-{n:02d}") for n in range(1, 5)]  # 10 kW loads, 5 kW of each can be shed
    with (
        market(tmp_path, database_url, [offer(**EVENT_OFFER)], [], **devices.bpp_settings()) as flex,
        FleetThread(devices, fleet) as agents,
    ):
        announced(flex, 4)
        start = aligned(datetime.now(UTC) + timedelta(seconds=4), STEP)
        order_id, transaction_id = contract(flex, "12", (start, start + 4 * STEP))
        bodies = wait_for_state(flex, transaction_id, "SETTLED")

        for body in bodies:
            assert_valid_callback(body)
            assert body["context"]["bpp_id"] == flex.bpp.subscriber_id
        states = [state_of(body) for body in bodies]
        assert states[:2] == ["DISPATCHED", "IN_PROGRESS"] and states[-2:] == ["COMPLETED", "SETTLED"]
        assert set(states[2:-2]) == {"IN_PROGRESS"}  # progress every report interval
        assert len({body["context"]["message_id"] for body in bodies}) == len(bodies)

        dispatch = flex.api.get(f"/api/orders/{order_id}/dispatch")
        solicited = flex.utility.send(
            flex.bpp, Action.STATUS, {"order_id": order_id}, transaction_id=transaction_id
        )
        answered = flex.utility.callback(solicited)["message"]["order"]
        applied = agents.applied()

    final = bodies[-1]["message"]["order"]
    performance = read_tag_group(final["tags"], "performance")
    settlement = read_tag_group(final["tags"], "settlement")
    commitment = read_tag_group(final["tags"], "commitment")
    assert performance is not None and settlement is not None and commitment is not None
    assert answered["tags"] == final["tags"]  # a status asked for afterwards tells the same

    # Committed 12 kW; allocated 12 × 1.2 = 14.4 kW over three devices, the fourth kept spare.
    assert commitment["committed_kw"] == "12"
    commands = {command["device_id"]: command for command in dispatch["commands"]}
    assert {device: Decimal(c["setpoint_kw"]) for device, c in commands.items()} == {
        "dev-01": Decimal("5"),
        "dev-02": Decimal("5"),
        "dev-03": Decimal("4.4"),
    }
    assert {c["status"] for c in commands.values()} == {"COMPLETED"}
    assert applied == {
        device: [commands[device]["command_id"]] if device in commands else [] for device in applied
    }

    # Per device, delivered ≈ what it was asked; the order's delivery is their sum, interval by interval.
    figures = {row["device_id"]: row for row in dispatch["devices"]}
    assert set(figures) == set(commands)
    for device, row in figures.items():
        assert row["baseline_method"] == "METER_BEFORE_AFTER" and row["acked"] and not row["opted_out"]
        assert abs(Decimal(row["delivered_kw"]) - Decimal(commands[device]["setpoint_kw"])) <= Decimal("0.2")
    delivered_kw = Decimal(performance["delivered_kw"])
    assert abs(delivered_kw - sum(Decimal(row["delivered_kw"]) for row in figures.values())) <= Decimal(
        "0.003"
    )
    assert Decimal("14") <= delivered_kw <= Decimal("14.4")
    assert (performance["devices_acked"], performance["devices_opted_out"], performance["intervals"]) == (
        "3",
        "0",
        "4",
    )
    assert performance["baseline_method"] == "METER_BEFORE_AFTER"

    # Settlement: of the 14.4 kW delivered, each interval is paid up to the 12 kW committed (12 kW for
    # 5 s = 0.017 kWh), at 0.25; the reservation 12 kW × 1.5, no penalty.
    final_measurement = dispatch["plan"]["performance"]
    assert final_measurement["final"]
    interval_hours = Decimal(int(STEP.total_seconds())) / 3600
    paid = [
        (min(max(Decimal(row["delivered_kw"]), Decimal(0)), Decimal(12)) * interval_hours).quantize(
            Decimal("0.001")
        )
        for row in final_measurement["per_interval"]
    ]
    delivered_kwh = Decimal(settlement["delivered_kwh"])
    assert delivered_kwh == sum(paid) == Decimal(final_measurement["paid_kwh"])
    assert delivered_kwh < Decimal(performance["delivered_kwh"])  # the headroom is reported, not paid
    assert Decimal(settlement["shortfall_kwh"]) == 0 and Decimal(settlement["penalty_amount"]) == 0
    assert Decimal(settlement["gross_amount"]) == (delivered_kwh * Decimal("0.25")).quantize(Decimal("0.01"))
    assert Decimal(settlement["net_amount"]) == Decimal(settlement["gross_amount"]) + Decimal("18")
    assert settlement["currency"] == "INR"
