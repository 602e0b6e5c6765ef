"""A utility network on real ports for the BAP's tests: a registry, scripted aggregators and the BAP."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bap.app import create_bap_app
from bap.settings import BapSettings
from tests.bap.aggregator import Book, Offer, Script, build_aggregator_app
from tests.bap.console import Console
from tests.support.network import Member, new_member, register, registry_server
from tests.support.servers import ThreadedServer

OPERATOR_TOKEN = "operator-token-0123456789abcdef"
VIEWER_TOKEN = "viewer-token-0123456789abcdef"
ADMIN_TOKEN = "admin-token-0123456789abcdef"
OPERATORS = [
    {"name": "control-room", "role": "operator", "token": OPERATOR_TOKEN},
    {"name": "auditor", "role": "viewer", "token_sha256": hashlib.sha256(VIEWER_TOKEN.encode()).hexdigest()},
    {"name": "grid-admin", "role": "admin", "token": ADMIN_TOKEN},
]


def bap_settings(member: Member, registry_url: str, **overrides: Any) -> BapSettings:
    values: dict[str, Any] = {
        "subscriber_id": member.subscriber_id,
        "subscriber_url": member.url,
        "unique_key_id": member.identity.unique_key_id,
        "signing_private_key": member.identity.signing_private_key,
        "encryption_private_key": member.identity.encryption_private_key,
        "registry_url": registry_url,
        "database_url": member.database_url,
        "port": member.port,
        "operators": OPERATORS,
        "collection_seconds": 10.0,
        "activation_timeout_seconds": 10.0,
        "scheduler_poll_seconds": 0.5,
        "outbox_poll_seconds": 0.2,
        "outbox_backoff_base_seconds": 0.1,
        "outbox_backoff_max_seconds": 1.0,
        "log_format": "console",
    }
    values.update(overrides)
    return BapSettings(**values)


@dataclass
class Aggregator:
    member: Member
    script: Script
    book: Book

    @property
    def subscriber_id(self) -> str:
        return self.member.subscriber_id


@dataclass
class UtilityNetwork:
    directory: Path
    registry_url: str
    bap: Member
    aggregators: dict[str, Aggregator]
    stack: ExitStack = field(default_factory=ExitStack)

    def api(self, token: str = OPERATOR_TOKEN) -> httpx.Client:
        client = httpx.Client(
            base_url=self.bap.url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0
        )
        return self.stack.enter_context(client)

    def console(self, token: str = OPERATOR_TOKEN) -> Console:
        return self.stack.enter_context(Console.open(self.bap.url, token))


def scripts() -> dict[str, Script]:
    """Two aggregators on TX-17: a cheaper, less reliable one and a dearer, reliable one."""
    return {
        "alpha.aggregator": Script(
            offers=[Offer("alpha-batteries", Decimal("40"), Decimal("0.20"), Decimal("0.90"))]
        ),
        "beta.aggregator": Script(
            offers=[Offer("beta-loads", Decimal("60"), Decimal("0.30"), Decimal("0.95"))]
        ),
    }


@pytest.fixture
def network_factory(tmp_path: Path) -> Iterator[Callable[..., UtilityNetwork]]:
    """Start a network: `network_factory(scripts={...}, **bap_setting_overrides)`."""
    with ExitStack() as stack:

        def start(scripts_by_name: dict[str, Script] | None = None, **overrides: Any) -> UtilityNetwork:
            registry = stack.enter_context(registry_server(tmp_path))
            bap = new_member(tmp_path, "utility.bap")
            register(registry.url, bap.identity, type="BAP", url=bap.url)
            aggregators = {}
            for name, script in (scripts_by_name or scripts()).items():
                member = new_member(tmp_path, name)
                register(registry.url, member.identity, type="BPP", url=member.url)
                book = Book()
                app = build_aggregator_app(member.settings(registry.url), script, book)
                stack.enter_context(ThreadedServer(app, port=member.port))
                aggregators[name] = Aggregator(member, script, book)
            settings = bap_settings(bap, registry.url, **overrides)
            stack.enter_context(ThreadedServer(create_bap_app(settings), port=bap.port))
            network = UtilityNetwork(tmp_path, registry.url, bap, aggregators)
            stack.enter_context(network.stack)
            return network

        yield start


@pytest.fixture
def network(network_factory: Callable[..., UtilityNetwork]) -> UtilityNetwork:
    return network_factory()
