"""Parts on different hosts: the registry, NATS, the BAP and the BPP each listen on their own loopback
address (127.0.0.2 … 127.0.0.5 stand in for four machines), find each other only through the URLs in
the description, and carry a grid event from alert to confirmed orders across them.
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from tests.network.test_up import processes_using, running
from tests.support.network import alert_and_approve, inbound
from tests.support.servers import free_port

pytestmark = pytest.mark.slow

HOSTS = {"registry": "127.0.0.2", "nats": "127.0.0.3", "bap": "127.0.0.4", "bpp": "127.0.0.5"}
NODE = "transformer:TX-17"


def loopback_aliases_bind() -> bool:
    try:
        for host in HOSTS.values():
            with socket.socket() as sock:
                sock.bind((host, 0))
    except OSError:
        return False
    return True


def refused(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port)) != 0


@pytest.mark.skipif(not loopback_aliases_bind(), reason="127.0.0.2-5 do not bind on this machine")
def test_parts_on_four_hosts_carry_an_event_to_confirmed_orders(tmp_path: Path) -> None:
    ports = {name: free_port(host) for name, host in HOSTS.items()}
    offer = {
        "grid_node": NODE,
        "direction": "REDUCE",
        "price_per_kwh": "0.25",
        "currency": "INR",
        "min_kw": 1,
        "max_kw": 100,
        "response_time_s": 60,
        "min_notice_s": 60,
        "max_duration_s": 7200,
        "max_events_per_day": 4,
        "baseline_method": "METER_BEFORE_AFTER",
        "cancel_before_s": 0,
        "cancellation_fee": "0",
    }
    description = {
        "directory": "hosts",
        "nats": {"host": HOSTS["nats"], "port": ports["nats"], "monitor_port": free_port(HOSTS["nats"])},
        "registry": {"host": HOSTS["registry"], "port": ports["registry"]},
        "baps": [
            {
                "subscriber_id": "utility.bap",
                "host": HOSTS["bap"],
                "port": ports["bap"],
                "settings": {"collection_seconds": 5},
            }
        ],
        "bpps": [
            {
                "subscriber_id": "alpha.aggregator",
                "host": HOSTS["bpp"],
                "port": ports["bpp"],
                "offers": [offer],
                "fleets": [{"grid_node": NODE, "count": 12, "mix": "battery=1,load=1"}],
                "settings": {"callback_on_empty_search": True},
            }
        ],
    }
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump(description))
    directory = tmp_path / "hosts"
    with running(path) as (process, lines):
        assert any("12 online on NATS" in line for line in lines), lines
        registry_url = f"http://{HOSTS['registry']}:{ports['registry']}"
        bap_url = f"http://{HOSTS['bap']}:{ports['bap']}"

        # each part listens on its own address only: nothing answers on 127.0.0.1 at its port
        for name, host in HOSTS.items():
            assert not refused(host, ports[name]), name
            assert refused("127.0.0.1", ports[name]), f"{name} also listens on 127.0.0.1"

        subscribers = {
            entry["subscriber_id"]: entry for entry in httpx.post(f"{registry_url}/lookup", json={}).json()
        }
        assert urlsplit(subscribers["utility.bap"]["url"]).hostname == HOSTS["bap"]
        assert urlsplit(subscribers["alpha.aggregator"]["url"]).hostname == HOSTS["bpp"]

        alert_and_approve(bap_url, directory / "keys", NODE, aggregators=["alpha.aggregator"])

        bpp_database = f"sqlite:///{directory / 'db' / 'alpha.aggregator.db'}"
        bap_database = f"sqlite:///{directory / 'db' / 'utility.bap.db'}"
        received_by_bpp = inbound(bpp_database)
        received_by_bap = inbound(bap_database)
        assert {r.action for r in received_by_bpp} >= {"search", "select", "init", "confirm"}
        assert {urlsplit(r.url).hostname for r in received_by_bpp} == {HOSTS["bpp"]}
        assert {urlsplit(r.url).hostname for r in received_by_bap} == {HOSTS["bap"]}

        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output
    assert not processes_using(directory)
