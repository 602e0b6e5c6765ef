"""`degflex devices …` and `degflex device`: simulate a fleet, run one device agent, manage device access.

- `devices simulate`: N simulated devices on a grid node, each a real agent talking to NATS.
- `devices streams`: create or update an aggregator's JetStream streams (what the BPP does at start).
- `devices credentials add|remove|list|authorization`: per-device nkeys and the nats-server block.
- `device`: one agent for one device, on any host that reaches NATS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeAlias

from bpp.devices.agent import AgentTimings, DeviceAgent
from bpp.devices.bus import DeviceBus
from bpp.devices.connection import BusCredentials
from bpp.devices.credentials import CredentialStore, Principal, Role, authorization_block, write_seed
from bpp.devices.errors import DeviceBusError
from bpp.devices.ledger import CommandLedger
from bpp.devices.simulator import (
    DEFAULT_MIX,
    KIND_NAMES,
    FleetSpec,
    Simulator,
    parse_kind,
    parse_mix,
    parse_seconds,
    single_device,
)
from participant.db import utcnow
from participant.logging import configure_logging
from participant.settings import LogFormat
from schemas.devices import InvalidSubject, check_aggregator

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"


def register(subparsers: Subparsers) -> None:
    devices = subparsers.add_parser(
        "devices",
        help="simulate devices, set up device streams, manage device credentials",
        description="Device side of degflex over NATS JetStream (see docs/devices.md).",
    )
    commands = devices.add_subparsers(dest="devices_command", metavar="SUBCOMMAND")

    def show_help(args: argparse.Namespace) -> int:
        devices.print_help()
        return 2

    devices.set_defaults(func=show_help)
    _register_simulate(commands)
    _register_streams(commands)
    _register_credentials(commands)
    _register_device(subparsers)


# -- shared options ----------------------------------------------------------------------------------


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--nats-url",
        default=os.environ.get("DEGFLEX_NATS_URL", DEFAULT_NATS_URL),
        help=f"NATS server URL (default $DEGFLEX_NATS_URL or {DEFAULT_NATS_URL})",
    )
    parser.add_argument(
        "--aggregator",
        default=os.environ.get("DEGFLEX_AGGREGATOR"),
        required="DEGFLEX_AGGREGATOR" not in os.environ,
        help="aggregator id: subjects are degflex.<aggregator>.… ($DEGFLEX_AGGREGATOR)",
    )
    auth = parser.add_argument_group(
        "credentials (one of; without any, from $DEGFLEX_NATS_NKEY, $DEGFLEX_NATS_CREDS or "
        "$DEGFLEX_NATS_USER with $DEGFLEX_NATS_PASSWORD; none for a server without authorization)"
    )
    auth.add_argument(
        "--nkey",
        type=Path,
        metavar="FILE",
        help="file holding an nkey user seed (SU…), e.g. from "
        "`degflex devices credentials add` ($DEGFLEX_NATS_NKEY)",
    )
    auth.add_argument("--user", help="user name (with --password or $DEGFLEX_NATS_PASSWORD)")
    auth.add_argument("--password", help="password (prefer $DEGFLEX_NATS_PASSWORD: arguments show in ps)")
    auth.add_argument(
        "--creds", type=Path, metavar="FILE", help="a NATS .creds file (JWT and seed) ($DEGFLEX_NATS_CREDS)"
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, … (default INFO)")
    parser.add_argument(
        "--log-format",
        choices=[str(fmt) for fmt in LogFormat],
        default=str(LogFormat.CONSOLE),
        help="console (default) or json lines",
    )


def _credentials(args: argparse.Namespace) -> BusCredentials:
    """The command line's credentials; without any, the environment's (the two never mix)."""
    if args.nkey is None and args.user is None and args.password is None and args.creds is None:
        return _environment_credentials()
    password = (args.password or os.environ.get("DEGFLEX_NATS_PASSWORD")) if args.user else args.password
    return BusCredentials(nkey_seed_file=args.nkey, user=args.user, password=password, creds_file=args.creds)


def _environment_credentials() -> BusCredentials:
    nkey, creds, user = (os.environ.get(f"DEGFLEX_NATS_{name}") or None for name in ("NKEY", "CREDS", "USER"))
    return BusCredentials(
        nkey_seed_file=Path(nkey) if nkey else None,
        creds_file=Path(creds) if creds else None,
        user=user,
        password=os.environ.get("DEGFLEX_NATS_PASSWORD") if user else None,
    )


def _seconds(text: str) -> float:
    try:
        return parse_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def _run(args: argparse.Namespace, main: Callable[[asyncio.Event], Awaitable[int]]) -> int:
    """Logging, then the coroutine with SIGINT/SIGTERM setting its stop event; our errors end it cleanly."""
    configure_logging(args.log_level, LogFormat(args.log_format))

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        return await main(stop)

    try:
        return asyncio.run(runner())
    except (DeviceBusError, InvalidSubject, ValueError) as exc:
        print(f"degflex: {exc}", file=sys.stderr)
        return 1


# -- devices simulate --------------------------------------------------------------------------------


def _register_simulate(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "simulate",
        help="run N simulated devices (batteries, loads, EV chargers, solar) as real agents",
        description="Run N simulated devices behind one grid node, each a device agent: they announce "
        "themselves, follow commands within their physical limits and report telemetry. Stop with "
        "Ctrl-C (SIGINT) or SIGTERM, or give --duration.",
    )
    parser.add_argument("--count", type=int, required=True, help="number of devices")
    parser.add_argument("--grid-node", required=True, help="grid node of every device (transformer:TX-17)")
    mix = ",".join(f"{name}={DEFAULT_MIX[kind]}" for name, kind in KIND_NAMES.items())
    parser.add_argument("--mix", default=mix, help=f"shares of device kinds (default {mix})")
    parser.add_argument(
        "--opt-out-rate", type=_fraction, default=0.05, help="share of events a customer overrides"
    )
    parser.add_argument(
        "--telemetry-interval", type=_seconds, default=1.0, help="e.g. 1s, 500ms (default 1s)"
    )
    parser.add_argument("--announce-interval", type=_seconds, default=300.0, help="default 5m")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiplies response latency (0.2–2 s); 0 answers at once",
    )
    parser.add_argument("--seed", type=int, default=0, help="same seed, same fleet and behaviour (default 0)")
    parser.add_argument("--utc-offset", type=float, default=0.0, help="local time of the grid node, hours")
    parser.add_argument("--id-prefix", help="device ids are <prefix>-0001…; default from the grid node")
    parser.add_argument(
        "--devices-per-connection",
        type=int,
        help="share NATS connections (default 1 up to 200 devices, else 50)",
    )
    parser.add_argument("--duration", type=_seconds, help="stop by itself after this long")
    parser.add_argument("--progress-interval", type=_seconds, default=10.0, help="progress line period")
    _connection_options(parser)
    parser.set_defaults(func=simulate_command)


def simulate_command(args: argparse.Namespace) -> int:
    if args.count < 1:
        print("degflex: --count must be at least 1", file=sys.stderr)
        return 2
    if args.time_scale < 0:
        print("degflex: --time-scale cannot be negative", file=sys.stderr)
        return 2
    try:
        spec = FleetSpec(
            count=args.count,
            grid_node=args.grid_node,
            mix=parse_mix(args.mix),
            opt_out_rate=args.opt_out_rate,
            time_scale=args.time_scale,
            seed=args.seed,
            id_prefix=args.id_prefix,
            utc_offset_hours=args.utc_offset,
        )
        check_aggregator(args.aggregator)
        credentials = _credentials(args)
    except (ValueError, DeviceBusError) as exc:
        print(f"degflex: {exc}", file=sys.stderr)
        return 2
    timings = AgentTimings(
        telemetry_interval=args.telemetry_interval, announce_interval=args.announce_interval
    )

    async def main(stop: asyncio.Event) -> int:
        simulator = Simulator(
            args.nats_url,
            args.aggregator,
            spec,
            credentials=credentials,
            timings=timings,
            devices_per_connection=args.devices_per_connection,
        )
        await simulator.run(stop, progress_every=args.progress_interval, duration=args.duration)
        print(json.dumps(simulator.summary()))
        return 0

    return _run(args, main)


# -- devices streams ---------------------------------------------------------------------------------


def _register_streams(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "streams",
        help="create or update the aggregator's device streams",
        description="Create (or update, if their limits changed) the commands and events streams of an "
        "aggregator. Needs the aggregator's service credentials. The BPP does the same at start.",
    )
    _connection_options(parser)
    parser.set_defaults(func=streams_command)


def streams_command(args: argparse.Namespace) -> int:
    async def main(stop: asyncio.Event) -> int:
        bus = DeviceBus(args.nats_url, args.aggregator, credentials=_credentials(args))
        await bus.connect()
        try:
            changes = await bus.ensure_streams()
        finally:
            await bus.close()
        print(json.dumps({name: str(change) for name, change in changes.items()}))
        return 0

    return _run(args, main)


# -- devices credentials -----------------------------------------------------------------------------


def _register_credentials(commands: Subparsers) -> None:
    parser = commands.add_parser(
        "credentials",
        help="per-device nkeys and the nats-server authorization block",
        description="Keep an aggregator's NATS users in a credentials store (JSON or YAML: public nkeys or "
        "bcrypt hashes only) and print the nats-server `authorization` block that limits each device to its "
        "own subjects.",
    )
    actions = parser.add_subparsers(dest="credentials_command", metavar="ACTION")

    def show_help(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    parser.set_defaults(func=show_help)
    roles = [str(role) for role in Role]

    add = actions.add_parser("add", help="create or rotate a user's nkey; writes its seed")
    add.add_argument("--store", type=Path, required=True, help="credentials store (created if missing)")
    add.add_argument("--aggregator", help="aggregator id (needed when the store is created)")
    add.add_argument(
        "--role", choices=roles, default=str(Role.DEVICE), help="device (default), fleet or service"
    )
    add.add_argument("--name", required=True, help="the device id (role device) or a user name")
    add.add_argument("--seed-out", type=Path, required=True, help="where to write the seed (mode 0600)")
    add.add_argument("--password-hash", help="a bcrypt hash instead of an nkey (no seed is written)")
    add.set_defaults(func=credentials_add)

    remove = actions.add_parser("remove", help="remove a user")
    remove.add_argument("--store", type=Path, required=True)
    remove.add_argument("--role", choices=roles, default=str(Role.DEVICE))
    remove.add_argument("--name", required=True)
    remove.set_defaults(func=credentials_remove)

    listing = actions.add_parser("list", help="list users with their permissions (JSON)")
    listing.add_argument("--store", type=Path, required=True)
    listing.set_defaults(func=credentials_list)

    block = actions.add_parser("authorization", help="print the nats-server authorization block")
    block.add_argument(
        "--store", type=Path, required=True, action="append", help="repeat for more aggregators"
    )
    block.set_defaults(func=credentials_authorization)


def _guard(action: Callable[[], int]) -> int:
    try:
        return action()
    except (DeviceBusError, InvalidSubject) as exc:
        print(f"degflex: {exc}", file=sys.stderr)
        return 1


def credentials_add(args: argparse.Namespace) -> int:
    def action() -> int:
        if args.store.exists():
            store = CredentialStore.load(args.store)
            if args.aggregator and args.aggregator != store.aggregator:
                print(f"degflex: {args.store} belongs to aggregator {store.aggregator}", file=sys.stderr)
                return 1
        elif args.aggregator:
            store = CredentialStore(args.aggregator)
        else:
            print("degflex: give --aggregator to create a new store", file=sys.stderr)
            return 2
        role = Role(args.role)
        if args.password_hash:
            store.add(Principal(args.name, role, password_hash=args.password_hash))
        else:
            write_seed(args.seed_out, store.issue(role, args.name))
        store.save(args.store)
        principal = store.get(role, args.name)
        assert principal is not None
        print(json.dumps({"name": principal.name, "role": str(role), "nkey": principal.nkey}))
        return 0

    return _guard(action)


def credentials_remove(args: argparse.Namespace) -> int:
    def action() -> int:
        store = CredentialStore.load(args.store)
        if not store.remove(Role(args.role), args.name):
            print(f"degflex: no {args.role} {args.name!r} in {args.store}", file=sys.stderr)
            return 1
        store.save(args.store)
        return 0

    return _guard(action)


def credentials_list(args: argparse.Namespace) -> int:
    def action() -> int:
        store = CredentialStore.load(args.store)
        rows = []
        for principal in store.principals:
            permissions = store.permissions_for(principal)
            rows.append(
                {
                    "name": principal.name,
                    "role": str(principal.role),
                    "auth": "nkey" if principal.nkey else "bcrypt",
                    "publish": list(permissions.publish),
                    "subscribe": list(permissions.subscribe),
                }
            )
        print(json.dumps({"aggregator": store.aggregator, "users": rows}, indent=2))
        return 0

    return _guard(action)


def credentials_authorization(args: argparse.Namespace) -> int:
    def action() -> int:
        print(authorization_block([CredentialStore.load(path) for path in args.store]))
        return 0

    return _guard(action)


# -- device ------------------------------------------------------------------------------------------


def _register_device(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "device",
        help="run one device agent (a simulated device of the given kind)",
        description="Run the agent of one device: it needs only the NATS URL and its credentials. It "
        "announces the device, follows its commands (also those sent while it was offline) and reports "
        "telemetry. Stop with Ctrl-C (SIGINT) or SIGTERM.",
    )
    parser.add_argument("--device-id", required=True)
    parser.add_argument("--kind", type=parse_kind, required=True, help="battery, load, ev or solar")
    parser.add_argument("--grid-node", required=True, help="e.g. transformer:TX-17")
    parser.add_argument("--rated-kw", type=float, default=5.0, help="power rating (default 5)")
    parser.add_argument(
        "--flex-kw", type=float, help="flexible kW (default: rated, or half of it for a load)"
    )
    parser.add_argument("--capacity-kwh", type=float, default=10.0, help="battery capacity (default 10)")
    parser.add_argument("--soc", type=_fraction, default=0.8, help="battery state of charge (default 0.8)")
    parser.add_argument("--opt-out-rate", type=_fraction, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--utc-offset", type=float, default=0.0, help="local time of the device, hours")
    parser.add_argument("--telemetry-interval", type=_seconds, default=60.0, help="default 60s")
    parser.add_argument("--announce-interval", type=_seconds, default=300.0, help="default 5m")
    parser.add_argument("--ledger", type=Path, help="file remembering acks across restarts")
    _connection_options(parser)
    parser.set_defaults(func=device_command)


def device_command(args: argparse.Namespace) -> int:
    try:
        device = single_device(
            args.device_id,
            args.kind,
            grid_node=args.grid_node,
            rated_kw=args.rated_kw,
            flex_kw=args.flex_kw,
            capacity_kwh=args.capacity_kwh,
            soc=args.soc,
            opt_out_rate=args.opt_out_rate,
            seed=args.seed,
            utc_offset_hours=args.utc_offset,
        )
        device.profile.announcement(at=utcnow())  # the same checks the aggregator will make
        credentials = _credentials(args)
    except (ValueError, DeviceBusError) as exc:
        print(f"degflex: {exc}", file=sys.stderr)
        return 2
    timings = AgentTimings(
        telemetry_interval=args.telemetry_interval, announce_interval=args.announce_interval
    )

    async def main(stop: asyncio.Event) -> int:
        agent = DeviceAgent(
            args.nats_url,
            args.aggregator,
            device,
            credentials,
            timings=timings,
            ledger=CommandLedger(args.ledger),
        )
        await agent.run(stop)
        return 0

    return _run(args, main)
