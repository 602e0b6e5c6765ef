"""`degflex devices …` and `degflex device` as real processes against the test nats-server."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from bpp.devices.credentials import CredentialStore, Role, write_seed
from bpp.devices.simulator import FleetSpec, parse_mix
from participant.cli import main
from schemas.devices import AckStatus, SetpointType
from tests.devices.conftest import Aggregator, EventLog, listen
from tests.devices.factories import RESPONSE, command

pytestmark = pytest.mark.timeout(180)

DEGFLEX = Path(sys.executable).with_name("degflex")


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command_line", [["devices", "simulate", "--help"], ["device", "--help"]])
def test_help_describes_the_options(command_line: list[str]) -> None:
    done = subprocess.run([str(DEGFLEX), *command_line], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for option in ("--nats-url", "--aggregator", "--nkey", "--creds"):
        assert option in done.stdout
    if command_line[0] == "devices":
        for option in ("--count", "--grid-node", "--mix", "--opt-out-rate", "--time-scale", "--seed"):
            assert option in done.stdout


async def stop_process(process: asyncio.subprocess.Process, signum: int) -> tuple[int, str, str]:
    process.send_signal(signum)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_simulate_announces_every_device_then_stops_on_sigterm(
    aggregator: Callable[..., Aggregator], tmp_path: Path
) -> None:
    agg = aggregator()
    fleet_seed = tmp_path / "fleet.nk"
    assert agg.fleet.nkey_seed is not None
    write_seed(fleet_seed, agg.fleet.nkey_seed)
    async with agg.bus() as bus:
        await bus.ensure_streams()
        log = EventLog()
        await listen(bus, log)
        process = await asyncio.create_subprocess_exec(
            str(DEGFLEX),
            "devices",
            "simulate",
            "--count=12",
            "--grid-node=transformer:TX-17",
            f"--aggregator={agg.id}",
            f"--nats-url={agg.url}",
            f"--nkey={fleet_seed}",
            "--mix=battery=0.5,load=0.5",
            "--seed=5",
            "--time-scale=0",
            "--telemetry-interval=500ms",
            "--devices-per-connection=4",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await log.wait_for(lambda log: len(log.announced()) == 12, timeout=60, what="12 announcements")
            spec = FleetSpec(
                count=12, grid_node="transformer:TX-17", mix=parse_mix("battery=0.5,load=0.5"), seed=5
            )
            order = command(
                "tx-17-0001",
                RESPONSE[spec.kinds()[0]],
                setpoint=(SetpointType.DISPATCH_SETPOINT, 1.0),
                seconds=0.5,
            )
            await bus.publish_command(order)
            await log.wait_for(
                lambda log: any(status.is_terminal for status in log.statuses(order.command_id)),
                what="a simulated device to answer",
            )
        finally:
            code, stdout, stderr = await stop_process(process, signal.SIGTERM)
    assert code == 0, stderr[-2000:]
    assert log.announced() == {f"tx-17-{number:04d}" for number in range(1, 13)}
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["devices"] == summary["ready"] == 12
    assert summary["acks"]["RECEIVED"] == 1
    assert "all devices announced and listening" in stderr


async def test_one_device_agent_runs_with_its_own_key(
    aggregator: Callable[..., Aggregator], tmp_path: Path
) -> None:
    agg = aggregator(["ev-7"])
    seed_file = tmp_path / "ev-7.nk"
    write_seed(seed_file, agg.seeds["ev-7"])
    async with agg.bus() as bus:
        await bus.ensure_streams()
        log = EventLog()
        await listen(bus, log)
        process = await asyncio.create_subprocess_exec(
            str(DEGFLEX),
            "device",
            "--device-id=ev-7",
            "--kind=battery",
            "--grid-node=feeder:F-3",
            f"--aggregator={agg.id}",
            f"--nats-url={agg.url}",
            f"--nkey={seed_file}",
            f"--ledger={tmp_path / 'ev-7.ledger'}",
            "--log-format=json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await log.wait_for(lambda log: "ev-7" in log.announced(), timeout=60, what="the announcement")
            order = command("ev-7", seconds=0.5)
            await bus.publish_command(order)
            await log.wait_for(
                lambda log: AckStatus.COMPLETED in log.statuses(order.command_id), what="the command done"
            )
        finally:
            code, _, stderr = await stop_process(process, signal.SIGINT)
    assert code == 0, stderr[-2000:]
    assert all(json.loads(line)["level"] for line in stderr.strip().splitlines())
    assert (tmp_path / "ev-7.ledger").read_text().count(order.command_id) == 3


def test_credentials_commands_keep_seeds_out_of_the_store(tmp_path: Path) -> None:
    store_path, seed_path = tmp_path / "devices.yaml", tmp_path / "keys" / "bat-1.nk"
    code, out, err = run_cli(
        "devices",
        "credentials",
        "add",
        f"--store={store_path}",
        "--aggregator=agg-1",
        "--name=bat-1",
        f"--seed-out={seed_path}",
    )
    assert code == 0, err
    seed = seed_path.read_text().strip()
    assert seed.startswith("SU") and stat.S_IMODE(seed_path.stat().st_mode) == 0o600
    public = json.loads(out)["nkey"]
    assert seed not in store_path.read_text() and public in store_path.read_text()

    code, out, _ = run_cli(
        "devices",
        "credentials",
        "add",
        f"--store={store_path}",
        "--role=service",
        "--name=bpp",
        "--seed-out=x.nk",
    )
    assert code == 0 and Path("x.nk").exists()
    Path("x.nk").unlink()

    code, block, _ = run_cli("devices", "credentials", "authorization", f"--store={store_path}")
    assert code == 0 and block.startswith("authorization {") and public in block and seed not in block
    assert '"degflex.agg-1.ack.bat-1"' in block and '"$JS.API.>"' in block

    code, listing, _ = run_cli("devices", "credentials", "list", f"--store={store_path}")
    users = {user["name"]: user for user in json.loads(listing)["users"]}
    assert users["bat-1"]["subscribe"] == ["degflex.agg-1.inbox.bat-1.>"]
    assert users["bpp"]["role"] == "service"


def test_a_plaintext_password_is_refused(tmp_path: Path) -> None:
    code, _, err = run_cli(
        "devices",
        "credentials",
        "add",
        f"--store={tmp_path / 'devices.json'}",
        "--aggregator=agg-1",
        "--name=bat-1",
        f"--seed-out={tmp_path / 'unused.nk'}",
        "--password-hash=hunter2",
    )
    assert code == 1 and "plaintext passwords are not accepted" in err
    assert not (tmp_path / "devices.json").exists()


def test_the_store_reads_back_as_written(tmp_path: Path) -> None:
    for name in ("devices.json", "devices.yaml"):
        store = CredentialStore("agg-1")
        store.issue(Role.DEVICE, "bat-1")
        store.issue(Role.FLEET, "sim")
        store.save(tmp_path / name)
        again = CredentialStore.load(tmp_path / name)
        assert again.principals == store.principals
        assert again.authorization_block() == store.authorization_block()
