"""`degflex bench pipeline` (the inbound checks per message) and `degflex bench dispatch` (a confirmed order
to ten thousand devices); each prints a table and writes its figures as JSON."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser("bench", help="micro-benchmarks of degflex's hot paths")
    benches = parser.add_subparsers(dest="bench", metavar="BENCH", required=True)
    pipeline = benches.add_parser(
        "pipeline",
        help="inbound pipeline per message: signature, JSON, schema, context, dedupe, persist (no HTTP)",
        description="Time InboundPipeline.screen, .check_fresh and .persist for signed searches and "
        "confirms against a migrated SQLite file; print a table and write the report as JSON.",
    )
    pipeline.add_argument("--iterations", type=int, default=5000, help="messages per action (default 5000)")
    pipeline.add_argument(
        "--output",
        type=Path,
        default=Path("bench-pipeline.json"),
        help="JSON report (default bench-pipeline.json)",
    )
    pipeline.set_defaults(func=bench_pipeline_command)
    _register_dispatch(benches)


def bench_pipeline_command(args: argparse.Namespace) -> int:
    from participant.bench import run, table

    if args.iterations < 1:
        print("degflex bench pipeline: --iterations must be at least 1")
        return 2
    logging.basicConfig(level=logging.WARNING)
    report = run(args.iterations)
    print(table(report))
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"report written to {args.output}")
    return 0


def _register_dispatch(benches: Subparsers) -> None:
    dispatch = benches.add_parser(
        "dispatch",
        help="confirm → commands to a simulated fleet over a real nats-server: publish and ack rates",
        description="Run a nats-server, a migrated SQLite file and the BPP's dispatcher here and a simulated "
        "fleet in a child process; confirm one order for the whole grid node and time the commands "
        "published and the acks processed. Prints a table and writes the report (with the machine) as JSON.",
    )
    dispatch.add_argument("--devices", type=int, default=10_000, help="simulated devices (default 10000)")
    dispatch.add_argument(
        "--output",
        type=Path,
        default=Path("bench-dispatch.json"),
        help="JSON report (default bench-dispatch.json)",
    )
    dispatch.set_defaults(func=bench_dispatch_command)


def bench_dispatch_command(args: argparse.Namespace) -> int:
    from bpp.dispatch.bench import run, stderr_progress, table

    if args.devices < 1:
        print("degflex bench dispatch: --devices must be at least 1")
        return 2
    logging.basicConfig(level=logging.WARNING)
    report = run(args.devices, progress=stderr_progress())
    print(table(report))
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"report written to {args.output}")
    return 0
