"""Crashes during an event lose no command and apply none twice: nats-server killed and restarted mid-event,
and separately the BPP process killed (before its commands were due, and again mid-event) and restarted
on the same database. The event still ends COMPLETED and SETTLED, each reported once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bpp.flex_network import Market, market, offer
from tests.dispatch.factories import aligned, flat_load
from tests.dispatch.network import DeviceNetwork, FleetThread, device_network
from tests.e2e.test_dispatch_flow import EVENT_OFFER, STEP, announced, contract, state_of, wait_for_state
from tests.support.servers import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def stored_commands(network: DeviceNetwork) -> int:
    """Messages in the aggregator's commands stream, as nats-server counts them."""
    server = network.server
    reply = httpx.get(f"http://{server.host}:{server.monitor_port}/jsz?streams=true", timeout=5).json()
    streams = [stream for account in reply["account_details"] for stream in account.get("stream_detail", [])]
    (commands,) = [stream for stream in streams if stream["name"] == f"DEGFLEX_{network.aggregator}_COMMANDS"]
    return int(commands["state"]["messages"])


def assert_delivered_once(
    bodies: list[dict[str, Any]], dispatch: dict[str, Any], applied: dict[str, list[str]], stored: int
) -> None:
    """Every command stored once and applied once; every state change reported once; the event complete."""
    commands = dispatch["commands"]
    assert all(command["published_at"] is not None for command in commands)
    assert stored == len(commands)  # JetStream kept each command once, however often it was published
    by_device = {command["device_id"]: command for command in commands if command["kind"] != "RELEASE"}
    assert {device: ids for device, ids in applied.items() if ids} == {
        device: [command["command_id"]] for device, command in by_device.items()
    }
    assert {command["status"] for command in by_device.values()} == {"COMPLETED"}
    states = Counter(state_of(body) for body in bodies)
    assert (states["DISPATCHED"], states["COMPLETED"], states["SETTLED"], states["PARTIAL"]) == (1, 1, 1, 0)
    assert len({body["context"]["message_id"] for body in bodies}) == len(bodies)


def run_to_settlement(
    flex: Market, network: DeviceNetwork, start_in: float, intervals: int
) -> tuple[str, str]:
    announced(flex, 4)
    start = aligned(datetime.now(UTC) + timedelta(seconds=start_in), STEP)
    return contract(flex, "12", (start, start + intervals * STEP))


def test_a_nats_server_crash_mid_event_loses_and_repeats_nothing(tmp_path: Path, database_url: str) -> None:
    fleet = [flat_load(f"dev-{n:02d}") for n in range(1, 5)]
    with (
        device_network(tmp_path) as network,
        market(tmp_path, database_url, [offer(**EVENT_OFFER)], [], **network.bpp_settings()) as flex,
        FleetThread(network, fleet) as agents,
    ):
        order_id, transaction_id = run_to_settlement(flex, network, start_in=4, intervals=5)
        wait_for_state(flex, transaction_id, "IN_PROGRESS")

        network.server.kill()
        wait_until(lambda: not agents.connected, what="the devices to lose NATS")
        network.server.start()

        bodies = wait_for_state(flex, transaction_id, "SETTLED", timeout=90)
        dispatch = flex.api.get(f"/api/orders/{order_id}/dispatch")
        assert_delivered_once(bodies, dispatch, agents.applied(), stored_commands(network))


def test_a_bpp_killed_before_and_during_the_event_resumes_where_it_was(
    tmp_path: Path, database_url: str
) -> None:
    fleet = [flat_load(f"dev-{n:02d}") for n in range(1, 5)]
    with (
        device_network(tmp_path) as network,
        market(
            tmp_path, database_url, [offer(**EVENT_OFFER)], [], as_process=True, **network.bpp_settings()
        ) as flex,
        FleetThread(network, fleet) as agents,
    ):
        assert flex.process is not None
        order_id, transaction_id = run_to_settlement(flex, network, start_in=12, intervals=4)

        def planned_not_sent() -> bool:
            commands = flex.api.get(f"/api/orders/{order_id}/dispatch")["commands"]
            return bool(commands) and all(command["published_at"] is None for command in commands)

        # Killed with the commands planned but not yet due: the next process publishes them.
        wait_until(planned_not_sent, what="commands planned and waiting for their publish time")
        flex.process.kill()
        flex.process.start()
        wait_for_state(flex, transaction_id, "IN_PROGRESS")
        # Killed mid-event: the next process hears what the devices said meanwhile and finishes the job.
        flex.process.kill()
        flex.process.start()

        bodies = wait_for_state(flex, transaction_id, "SETTLED", timeout=90)
        dispatch = flex.api.get(f"/api/orders/{order_id}/dispatch")
        assert_delivered_once(bodies, dispatch, agents.applied(), stored_commands(network))
