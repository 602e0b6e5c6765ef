"""Planning a network: addresses from the description, keys kept between runs, configurations the
parts read with their own settings classes."""

from __future__ import annotations

from pathlib import Path

import yaml

from bap.settings import BapSettings
from bpp.settings import BppSettings
from participant.network.plan import plan_network
from participant.network.spec import parse_network
from tests.network.test_spec import network


def hosts_network() -> dict[str, object]:
    data = network(
        registry={"host": "127.0.0.2", "port": 8100},
        nats={"host": "127.0.0.5", "port": 4222, "monitor_port": 8222},
    )
    data["baps"][0].update(host="0.0.0.0", port=8000, public_url="https://bap.utility.example")
    data["bpps"][0].update(host="127.0.0.4", port=8200)
    return data


def test_public_urls_and_addresses_come_from_the_description(tmp_path: Path) -> None:
    plan = plan_network(parse_network(hosts_network(), source="net.yaml"), tmp_path)
    assert plan.registry_url == "http://127.0.0.2:8100"
    assert plan.nats is not None and plan.nats.url == "nats://127.0.0.5:4222"
    bap, bpp = plan.baps[0], plan.bpps[0]
    assert bap.url == "https://bap.utility.example" and bap.health_url == "http://127.0.0.1:8000/health"
    assert bpp.url == "http://127.0.0.4:8200"
    bap_settings = BapSettings(**yaml.safe_load(bap.config_path.read_text()))
    assert bap_settings.subscriber_url == "https://bap.utility.example"
    assert (bap_settings.host, bap_settings.port) == ("0.0.0.0", 8000)
    assert bap_settings.registry_url == "http://127.0.0.2:8100"
    bpp_settings = BppSettings(config_file=bpp.config_path)
    assert bpp_settings.subscriber_url == "http://127.0.0.4:8200"
    assert bpp_settings.offers_file is not None and bpp_settings.offers_file.exists()
    registry = plan.registry_process
    assert registry is not None
    assert registry.argv[registry.argv.index("--host") + 1] == "127.0.0.2"
    assert registry.argv[registry.argv.index("--public-url") + 1] == "http://127.0.0.2:8100"
    fleet = plan.fleets[0].process
    assert fleet.argv[fleet.argv.index("--nats-url") + 1] == "nats://127.0.0.5:4222"
    assert "--nkey" in fleet.argv


def test_identities_and_tokens_are_kept_for_the_next_run(tmp_path: Path) -> None:
    spec = parse_network(network(), source="net.yaml")
    first, second = plan_network(spec, tmp_path), plan_network(spec, tmp_path)
    assert first.bpps[0].identity == second.bpps[0].identity
    assert first.registry_admin_token == second.registry_admin_token
    assert first.baps[0].operator_token == second.baps[0].operator_token
    assert first.baps[0].identity != first.bpps[0].identity


def test_configurations_holding_keys_are_private(tmp_path: Path) -> None:
    plan = plan_network(parse_network(network(), source="net.yaml"), tmp_path)
    for part in plan.participants:
        assert part.config_path.stat().st_mode & 0o077 == 0
    assert all(path.stat().st_mode & 0o077 == 0 for path in (tmp_path / "keys").iterdir())


def test_an_embedded_nats_server_admits_only_the_aggregators_users(tmp_path: Path) -> None:
    plan = plan_network(parse_network(network(), source="net.yaml"), tmp_path)
    config = (tmp_path / "nats" / "nats-server.conf").read_text()
    assert "authorization" in config and "degflex.alpha" in config
    assert plan.nats is not None and plan.nats.service["alpha"].nkey_seed_file is not None


def test_described_operators_are_used_as_given(tmp_path: Path) -> None:
    data = network()
    operator = {"name": "control-room", "role": "operator", "token": "x" * 20}
    data["baps"][0]["operators"] = [operator]
    plan = plan_network(parse_network(data, source="net.yaml"), tmp_path)
    assert plan.baps[0].operator_token is None
    assert yaml.safe_load(plan.baps[0].config_path.read_text())["operators"] == [operator]
