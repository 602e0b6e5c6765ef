"""`degflex demo`: a whole DEG flexibility network on this machine, through one grid event, in about
two minutes; everything it starts is stopped when it ends (also on Ctrl-C or a failure).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a whole local DEG network through one grid event (about two minutes)",
        description="Start nats-server, a registry, a utility BAP, three aggregator BPPs and a few hundred "
        "simulated devices; raise a transformer-stress alert and follow it as the utility sees it: "
        "discovery, recommendation, approval, orders, dispatch, acknowledgements, delivery and settlement. "
        "Time is compressed: the event starts 20 s after the alert and lasts 60 s (docs/operations.md).",
    )
    parser.add_argument("--json", dest="json_path", type=Path, metavar="FILE", help="write the summary here")
    parser.add_argument(
        "--record", dest="record_dir", type=Path, metavar="DIR", help="write every message as JSONL here"
    )
    parser.add_argument(
        "--keep-running", action="store_true", help="leave the network up afterwards (until Ctrl-C)"
    )
    parser.add_argument(
        "--interactive",
        action="store_true",
        help="wait for a person to type 'yes, proceed' (here or on the console WebSocket)",
    )
    parser.add_argument(
        "--event-in",
        type=_seconds,
        metavar="SECONDS",
        help=f"seconds from the alert to the start of the event (default {DEFAULT_LEAD_S}, or "
        f"{INTERACTIVE_LEAD_S} with --interactive to leave time to answer; at least {MINIMUM_LEAD_S})",
    )
    parser.add_argument("--plain", action="store_true", help="plain lines instead of the live table")
    parser.add_argument(
        "--directory",
        type=Path,
        help="keep keys, databases and logs here (default: a temporary directory, kept only on failure)",
    )
    parser.set_defaults(func=demo_command)


DEFAULT_LEAD_S = 20
INTERACTIVE_LEAD_S = 120
MINIMUM_LEAD_S = 15
"""Discovery, approval, the orders and the devices' lead time have to fit before the window opens."""


def _seconds(text: str) -> int:
    try:
        seconds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if seconds < MINIMUM_LEAD_S:
        raise argparse.ArgumentTypeError(
            f"at least {MINIMUM_LEAD_S} s: the orders must be in before the event"
        )
    return seconds


def demo_command(args: argparse.Namespace) -> int:
    from participant.network.demo import DemoOptions, run_demo
    from participant.network.demo_network import Timeline
    from participant.network.display import choose_display

    temporary = args.directory is None
    directory = Path(tempfile.mkdtemp(prefix="degflex-demo-")) if temporary else args.directory
    lead = args.event_in or (INTERACTIVE_LEAD_S if args.interactive else DEFAULT_LEAD_S)
    timeline = Timeline(lead=timedelta(seconds=lead))
    options = DemoOptions(
        directory=directory,
        json_path=args.json_path,
        record_dir=args.record_dir,
        keep_running=args.keep_running,
        interactive=args.interactive,
        timeline=timeline,
    )
    code = 1
    try:
        code = run_demo(options, choose_display(plain=args.plain))
    finally:
        if temporary and code != 1:
            shutil.rmtree(directory, ignore_errors=True)
    return code
