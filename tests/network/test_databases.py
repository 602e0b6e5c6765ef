"""Where a described network keeps its data: each part its own SQLite file by default, or the database
the file names; `degflex up` with the registry, the BAP and the BPP on PostgreSQL carries a grid event
to a confirmed order, with every schema migrated at start and no password on a command line.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import text

from participant.db import make_engine
from participant.migrate import current, head
from participant.network.plan import plan_network
from participant.network.spec import NetworkFileError, parse_network
from tests.network.test_spec import OFFER
from tests.network.test_up import processes_using, running
from tests.support.databases import postgres_admin_url, postgres_database
from tests.support.network import alert_and_approve
from tests.support.servers import free_port

NODE = "transformer:TX-17"
PASSWORD = "s3cret-in-the-url"


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(NetworkFileError) as caught:
        parse_network(data, source="net.yaml")
    return caught.value.problems


def test_a_database_that_is_neither_sqlite_nor_postgresql_is_refused_with_its_field() -> None:
    found = problems(
        {
            "registry": {"database_url": "mysql://degflex:pw@db/registry"},
            "baps": [{"subscriber_id": "utility.bap", "database_url": "postgres://u:pw@db/bap"}],
            "bpps": [{"subscriber_id": "alpha.aggregator", "database_url": "oracle://db/alpha"}],
        }
    )
    assert found == [
        "registry.database_url: 'mysql://degflex:***@db/registry' is not a sqlite or postgresql database URL",
        "bpps[0].database_url: 'oracle://db/alpha' is not a sqlite or postgresql database URL",
    ]


def test_two_participants_on_one_database_are_refused_whatever_the_spelling() -> None:
    found = problems(
        {
            "baps": [{"subscriber_id": "utility.bap", "database_url": "postgresql://u:one@db:5432/flex"}],
            "bpps": [
                {
                    "subscriber_id": "alpha.aggregator",
                    "database_url": "postgresql+asyncpg://u:two@db:5432/flex",
                },
                {"subscriber_id": "beta.aggregator", "database_url": "postgresql://u:one@db:5432/beta"},
            ],
        }
    )
    assert found == [
        "each BAP and BPP needs its own database: "
        "postgresql+asyncpg://u:***@db:5432/flex is given to utility.bap and alpha.aggregator"
    ]


def test_a_server_database_url_reaches_the_registry_by_environment_not_argv(tmp_path: Path) -> None:
    url = f"postgresql://degflex:{PASSWORD}@db.example:5432/registry"
    spec = parse_network(
        {"registry": {"database_url": url}, "baps": [{"subscriber_id": "utility.bap"}]}, source="net.yaml"
    )
    registry = plan_network(spec, tmp_path).registry_process
    assert registry is not None
    assert not any(PASSWORD in arg for arg in registry.argv), registry.argv
    assert registry.env["DEGFLEX_REGISTRY_DATABASE_URL"] == url

    sqlite = plan_network(parse_network({"baps": [{"subscriber_id": "utility.bap"}]}, source="n"), tmp_path)
    assert sqlite.registry_process is not None
    assert f"sqlite:///{tmp_path / 'db' / 'registry.db'}" in sqlite.registry_process.argv


# -- degflex up on PostgreSQL ------------------------------------------------------------------------


async def _fetch(url: str, query: str) -> list[dict[str, Any]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(query))
            return [dict(row) for row in result.mappings()]
    finally:
        await engine.dispose()


def fetch(url: str, query: str) -> list[dict[str, Any]]:
    return asyncio.run(_fetch(url, query))


@pytest.fixture
def databases() -> Iterator[dict[str, str]]:
    """An empty PostgreSQL database for the registry, the BAP and the BPP; dropped afterwards."""
    admin = postgres_admin_url()
    assert admin is not None
    with ExitStack() as stack:
        yield {name: stack.enter_context(postgres_database(admin)) for name in ("registry", "bap", "bpp")}


def command_lines_naming(words: list[str]) -> list[str]:
    """Command lines of live processes (anyone's: `ps` shows them all) that contain one of `words`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if entry.name.isdigit() and any(word in cmdline for word in words):
            found.append(cmdline)
    return found


def refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.slow
@pytest.mark.postgres
def test_up_runs_every_participant_on_its_own_postgresql_database(
    tmp_path: Path, databases: dict[str, str]
) -> None:
    # the spelling people write (docs/operations.md); the parts pick the async driver themselves
    spelled = {name: url.replace("postgresql+asyncpg://", "postgresql://") for name, url in databases.items()}
    ports = {name: free_port() for name in ("registry", "bap", "bpp")}
    description = {
        "directory": "net",
        "nats": {},
        "registry": {"port": ports["registry"], "database_url": spelled["registry"]},
        "baps": [
            {
                "subscriber_id": "utility.bap",
                "port": ports["bap"],
                "database_url": spelled["bap"],
                "settings": {"collection_seconds": 5},
            }
        ],
        "bpps": [
            {
                "subscriber_id": "alpha.aggregator",
                "port": ports["bpp"],
                "database_url": spelled["bpp"],
                "offers": [{**OFFER, "min_kw": 1, "max_kw": 100, "price_per_kwh": "0.25"}],
                "fleets": [{"grid_node": NODE, "count": 12, "mix": "battery=1,load=1"}],
                "settings": {"callback_on_empty_search": True},
            }
        ],
    }
    path = tmp_path / "network.yaml"
    path.write_text(yaml.safe_dump(description))
    directory = tmp_path / "net"
    with running(path) as (process, lines):
        assert any("12 in their aggregators' fleets" in line for line in lines), lines
        for name, port in ports.items():
            assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200, name
        for name, url in databases.items():
            assert current(url) == head(), f"the {name}'s database is migrated at start"
        assert list((directory / "db").glob("*.db")) == [], "nothing is kept in SQLite"
        hosts_and_names = [url.rsplit("@", 1)[1] for url in databases.values()]  # 127.0.0.1:5432/degflex_…
        assert not command_lines_naming(hosts_and_names), "a database URL (and its password) shows in `ps`"

        subscribers = fetch(databases["registry"], "SELECT subscriber_id FROM registry_subscribers")
        assert {row["subscriber_id"] for row in subscribers} == {"utility.bap", "alpha.aggregator"}
        assert len(fetch(databases["bpp"], "SELECT device_id FROM bpp_ders")) == 12

        bap = f"http://127.0.0.1:{ports['bap']}"
        alert_and_approve(bap, directory / "keys", NODE, aggregators=["alpha.aggregator"])

        bap_orders = fetch(databases["bap"], "SELECT bpp_order_id, state FROM bap_orders")
        bpp_orders = fetch(databases["bpp"], "SELECT id, status FROM bpp_orders")
        assert [row["state"] for row in bap_orders] == ["ACTIVE"], bap_orders
        assert [(row["id"], row["status"]) for row in bpp_orders] == [
            (bap_orders[0]["bpp_order_id"], "ACTIVE")
        ]

        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output
    assert not processes_using(directory)
    assert all(refused(port) for port in ports.values()), "the registry and the participants stopped"
