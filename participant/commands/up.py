"""`degflex up network.yaml`: run a whole network described in a file until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "up",
        help="run a network described in a file (registry, BAPs, BPPs, NATS, simulated devices)",
        description="Start every part a network file describes (see docs/network.example.yaml and "
        "docs/operations.md), register them with the registry, enrol the simulated fleets, print where "
        "to reach them, and run until Ctrl-C or SIGTERM; then stop everything. Keys, configurations, "
        "databases and logs are kept in the file's `directory` (default <file>.d beside it).",
    )
    parser.add_argument("network", type=Path, metavar="NETWORK.yaml", help="the network description")
    parser.add_argument("--directory", type=Path, help="where to keep keys, databases and logs")
    parser.add_argument(
        "--check", action="store_true", help="validate the file and write its configuration; start nothing"
    )
    parser.set_defaults(func=up_command)


def up_command(args: argparse.Namespace) -> int:
    from participant.network.addresses import format_addresses, network_addresses
    from participant.network.plan import plan_network
    from participant.network.session import INTERRUPTED, RunningNetwork, print_error, run_network
    from participant.network.spec import NetworkFileError, load_network

    try:
        spec = load_network(args.network)
    except NetworkFileError as exc:
        print_error(f"degflex up: invalid network description:\n{exc}")
        return 2
    directory = args.directory or spec.directory
    assert directory is not None
    plan = plan_network(spec, directory)
    if args.check:
        print(f"{args.network}: valid; configuration written to {plan.directory}")
        print(format_addresses(network_addresses(plan)))
        return 0

    def say(text: str) -> None:
        print(text, flush=True)

    async def serve(network: RunningNetwork) -> int:
        say(f"network up ({len(network.supervisor.children)} processes):")
        say(format_addresses(network_addresses(network.plan)))
        say("Ctrl-C stops it.")
        await asyncio.Event().wait()
        return 0

    code = asyncio.run(run_network(plan, serve, say=say, error=print_error))
    return 0 if code == INTERRUPTED else code
