"""Devices against a NATS server that degflex did not start: an operator issues nkeys with `degflex
devices credentials`, pastes the authorization block into their own `nats.conf` and runs `nats-server`;
the simulator and a device agent, run as real processes, log in with those keys (given as `--nkey` or in
the environment), are refused without them, and stop on Ctrl-C even while refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from bpp.devices.bus import DeviceBus
from bpp.devices.connection import BusCredentials
from participant.natsserver import nats_server_binary
from schemas.devices import AckStatus, CommandKind
from tests.devices.conftest import EventLog, listen
from tests.devices.factories import command
from tests.network.test_up import read_until_up
from tests.network.test_up import stop as stop_up
from tests.support.servers import free_port, wait_until

pytestmark = pytest.mark.timeout(180)

DEGFLEX = Path(sys.executable).with_name("degflex")
AGGREGATOR = "ext"
GRID_NODE = "transformer:TX-9"


def degflex(*args: str | Path) -> str:
    done = subprocess.run(
        [str(DEGFLEX), *map(str, args)], capture_output=True, text=True, timeout=60, env=environment()
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def environment(**extra: str) -> dict[str, str]:
    """Ours without NATS credentials, so a test gives each process exactly the ones it means."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("DEGFLEX_NATS_")}
    return {**clean, **extra}


@dataclass(frozen=True)
class OperatorsNats:
    url: str
    keys: Path
    """Aggregator `ext`: bpp.nk (service), sim.nk (fleet), meter-7.nk (one device); aggregator `upx` (for
    `degflex up`, which sets its streams up itself): upx-bpp.nk, upx-sim.nk; stranger.nk: unknown."""


@pytest.fixture(scope="module")
def operators_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OperatorsNats]:
    """nats-server with JetStream and the users `degflex devices credentials authorization` printed."""
    keys = tmp_path_factory.mktemp("operator")
    store = keys / "devices.yaml"
    for role, name in (("service", "bpp"), ("fleet", "sim"), ("device", "meter-7")):
        degflex("devices", "credentials", "add", "--store", store, "--aggregator", AGGREGATOR,
                "--role", role, "--name", name, "--seed-out", keys / f"{name}.nk")  # fmt: skip
    for role, name in (("service", "bpp"), ("fleet", "sim")):
        degflex("devices", "credentials", "add", "--store", keys / "upx.yaml", "--aggregator", "upx",
                "--role", role, "--name", name, "--seed-out", keys / f"upx-{name}.nk")  # fmt: skip
    degflex("devices", "credentials", "add", "--store", keys / "elsewhere.yaml", "--aggregator", AGGREGATOR,
            "--role", "fleet", "--name", "stranger", "--seed-out", keys / "stranger.nk")  # fmt: skip
    block = degflex("devices", "credentials", "authorization", "--store", store, "--store", keys / "upx.yaml")
    port, monitor = free_port(), free_port()
    config = keys / "nats.conf"
    config.write_text(
        f'listen: "127.0.0.1:{port}"\nhttp: "127.0.0.1:{monitor}"\n'
        f'jetstream {{ store_dir: "{keys / "jetstream"}" }}\n{block}'
    )
    with open(keys / "nats.log", "wb") as log:
        server = subprocess.Popen([str(nats_server_binary()), "-c", str(config)], stdout=log, stderr=log)
    try:
        health = f"http://127.0.0.1:{monitor}/healthz?js-enabled-only=true"
        wait_until(lambda: _answers(health), what="nats-server with JetStream")
        url = f"nats://127.0.0.1:{port}"
        degflex(
            "devices", "streams", "--aggregator", AGGREGATOR, "--nats-url", url, "--nkey", keys / "bpp.nk"
        )
        yield OperatorsNats(url, keys)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


async def start(*args: str | Path, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(DEGFLEX),
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env or environment(),
    )


async def stop(process: asyncio.subprocess.Process, signum: int = signal.SIGINT) -> tuple[int, str, str]:
    if process.returncode is None:
        process.send_signal(signum)
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"still running 30 s after signal {signum}; killed") from None
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def concluded(command_id: str) -> Callable[[EventLog], bool]:
    """The device acted on the command and said how it ended (COMPLETED, or PARTIAL at a limit)."""
    return lambda log: (
        AckStatus.STARTED in log.statuses(command_id)
        and any(status.is_terminal for status in log.statuses(command_id))
    )


async def test_a_fleet_and_a_device_log_in_with_the_keys_degflex_issued(
    operators_nats: OperatorsNats,
) -> None:
    url, keys = operators_nats.url, operators_nats.keys
    where = [f"--grid-node={GRID_NODE}", f"--aggregator={AGGREGATOR}", f"--nats-url={url}"]
    async with DeviceBus(url, AGGREGATOR, credentials=BusCredentials(nkey_seed_file=keys / "bpp.nk")) as bus:
        log = EventLog()
        await listen(bus, log)
        fleet = await start(
            "devices", "simulate", "--count=4", "--id-prefix=ext", "--mix=battery=1", "--time-scale=0",
            *where, f"--nkey={keys / 'sim.nk'}",
        )  # fmt: skip
        device = await start(
            "device", "--device-id=meter-7", "--kind=load", *where,
            env=environment(DEGFLEX_NATS_NKEY=str(keys / "meter-7.nk")),
        )  # fmt: skip
        try:
            expected = {"ext-0001", "ext-0002", "ext-0003", "ext-0004", "meter-7"}
            await log.wait_for(lambda log: log.announced() == expected, timeout=60, what="5 announcements")
            for device_id, kind in (("meter-7", CommandKind.SHED), ("ext-0002", CommandKind.DISCHARGE)):
                order = command(device_id, kind, seconds=0.5)
                await bus.publish_command(order)
                await log.wait_for(concluded(order.command_id), what=f"{device_id} to carry out its command")
        finally:
            stopped = await asyncio.gather(stop(fleet, signal.SIGTERM), stop(device))
            (fleet_code, fleet_out, fleet_err), (device_code, _, device_err) = stopped
    assert fleet_code == 0, fleet_err[-2000:]
    assert device_code == 0, device_err[-2000:]
    summary = json.loads(fleet_out.strip().splitlines()[-1])
    assert summary["devices"] == summary["ready"] == 4
    assert "refused" not in fleet_err + device_err


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(
            ["devices", "simulate", "--count=3", "--id-prefix=intruder", "--nkey={keys}/stranger.nk"],
            id="simulate-with-a-key-the-server-does-not-know",
        ),
        pytest.param(["device", "--device-id=meter-8", "--kind=load"], id="device-without-credentials"),
    ],
)
async def test_refused_credentials_are_logged_and_ctrl_c_still_stops_the_process(
    operators_nats: OperatorsNats, args: list[str]
) -> None:
    process = await start(
        *(arg.format(keys=operators_nats.keys) for arg in args),
        f"--grid-node={GRID_NODE}",
        f"--aggregator={AGGREGATOR}",
        f"--nats-url={operators_nats.url}",
    )
    assert process.stderr is not None
    seen: list[str] = []
    try:
        while not any("NATS refused the credentials" in line for line in seen):
            line = await asyncio.wait_for(process.stderr.readline(), 30)
            assert line, "it ended before it was refused:\n" + "".join(seen)
            seen.append(line.decode())
    finally:
        code, stdout, stderr = await stop(process, signal.SIGINT)
    assert code == 0, "".join(seen) + stderr[-2000:]
    if args[0] == "devices":
        assert json.loads(stdout.strip().splitlines()[-1])["ready"] == 0


@pytest.mark.parametrize("command_line", [["devices", "simulate"], ["device"]])
def test_help_says_where_credentials_come_from(command_line: list[str]) -> None:
    text = " ".join(degflex(*command_line, "--help").split())
    for where in (
        "--nkey",
        "--creds",
        "--user",
        "$DEGFLEX_NATS_NKEY",
        "$DEGFLEX_NATS_CREDS",
        "$DEGFLEX_NATS_USER",
    ):
        assert where in text, where


@pytest.mark.slow
def test_up_runs_fleets_on_an_external_nats_with_the_credentials_in_the_file(
    operators_nats: OperatorsNats, tmp_path: Path
) -> None:
    keys = operators_nats.keys
    description = {
        "directory": "net",
        "nats": {"url": operators_nats.url},
        "bpps": [
            {
                "subscriber_id": "upx.aggregator",
                "port": free_port(),
                "settings": {"nats_nkey_seed_file": str(keys / "upx-bpp.nk")},
                "fleets": [
                    {"grid_node": GRID_NODE, "count": 6, "mix": "battery=1,load=1", "nkey": "keys/upx-sim.nk"}
                ],
            }
        ],
    }
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "upx-sim.nk").write_bytes((keys / "upx-sim.nk").read_bytes())
    path = tmp_path / "network.yaml"
    path.write_text(yaml.safe_dump(description))
    process = subprocess.Popen(
        [str(DEGFLEX), "up", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment(),
    )
    simulator_log = tmp_path / "net" / "logs" / "devices-upx-1.log"
    try:
        read_until_up(process)
        # the server is not ours to watch, so `up` does not wait for the devices: its simulator's log says
        wait_until(
            lambda: "all devices announced and listening" in simulator_log.read_text(),
            timeout=60,
            what="the simulated fleet to log in and announce itself",
        )
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output
    finally:
        stop_up(process)
    assert "refused" not in simulator_log.read_text()
