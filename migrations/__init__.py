"""One Alembic history for every degflex table, shipped inside the package so installs can migrate.

`MODEL_MODULES` lists every module that defines tables; env.py and the drift test import them so that
`Base.metadata` is complete. A package adding tables adds its models module here.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from sqlalchemy import MetaData

SCRIPT_DIRECTORY = Path(__file__).resolve().parent

MODEL_MODULES = (
    "participant.messagelog.models",
    "participant.outbox.models",
    "participant.registry.models",
    "bpp.fleet.models",
    "bpp.offers.models",
    "bpp.capacity.models",
    "bpp.orders.models",
    "bpp.dispatch.models",
    "bap.models",
)


def target_metadata() -> MetaData:
    """`Base.metadata` with every table registered."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    from participant.db import Base

    return Base.metadata
