"""Subcommands of `degflex`; each module registers its parsers on the root parser."""

from __future__ import annotations

import argparse
import importlib
from typing import Protocol

COMMAND_MODULES = (
    "participant.commands.keys",
    "participant.commands.migrate",
    "participant.commands.registry",
    "participant.commands.bench",
    "participant.commands.devices",
    "participant.commands.bpp",
    "participant.commands.bap",
    "participant.commands.up",
    "participant.commands.demo",
)


class CommandModule(Protocol):
    def register(self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...


def register_all(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name in COMMAND_MODULES:
        try:
            module: CommandModule = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(subparsers)
