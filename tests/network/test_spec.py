"""The network description: what `degflex up` accepts, and errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from participant.network.spec import NetworkFileError, load_network, parse_network

REPO = Path(__file__).resolve().parents[2]
OFFER = {
    "grid_node": "transformer:TX-17",
    "direction": "REDUCE",
    "price_per_kwh": "0.2",
    "currency": "INR",
    "min_kw": 5,
    "max_kw": 60,
    "response_time_s": 60,
    "min_notice_s": 60,
    "max_duration_s": 3600,
    "max_events_per_day": 4,
    "baseline_method": "METER_BEFORE_AFTER",
    "cancel_before_s": 0,
    "cancellation_fee": "0",
}


def network(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "nats": {},
        "baps": [{"subscriber_id": "utility.bap"}],
        "bpps": [
            {
                "subscriber_id": "alpha.aggregator",
                "offers": [dict(OFFER)],
                "fleets": [{"grid_node": "transformer:TX-17", "count": 10}],
            }
        ],
    }
    data.update(changes)
    return data


def problems(data: object) -> list[str]:
    with pytest.raises(NetworkFileError) as caught:
        parse_network(data, source="net.yaml")
    assert str(caught.value).startswith("net.yaml: ")
    return caught.value.problems


def test_the_example_file_is_a_valid_network() -> None:
    spec = load_network(REPO / "docs" / "network.example.yaml")
    assert [bpp.nats_aggregator for bpp in spec.bpps] == ["alpha", "beta"]
    assert spec.directory == REPO / "docs" / "network-data"
    assert spec.bpps[0].offers[0].grid_node == "transformer:TX-17"


def test_a_valid_description_parses() -> None:
    spec = parse_network(network(), source="net.yaml")
    assert spec.bpps[0].fleets[0].count == 10
    assert spec.registry.host == "127.0.0.1" and spec.registry.port is None


def test_an_unknown_field_is_named_with_its_path() -> None:
    data = network()
    data["bpps"][0]["fleets"][0]["cuont"] = 3
    assert "bpps[0].fleets[0].cuont: unknown field" in problems(data)


def test_a_bad_value_is_named_with_its_path() -> None:
    data = network()
    data["bpps"][0]["fleets"][0]["count"] = 0
    assert any(p.startswith("bpps[0].fleets[0].count: ") for p in problems(data))


def test_an_offer_is_checked_as_the_bpp_would() -> None:
    data = network()
    data["bpps"][0]["offers"][0]["direction"] = "SIDEWAYS"
    assert any(p.startswith("bpps[0].offers[0].direction: ") for p in problems(data))


def test_settings_must_be_settings_of_the_role() -> None:
    data = network()
    data["baps"][0]["settings"] = {"collection_secs": 3}
    assert any("settings.collection_secs is not a setting of BapSettings" in p for p in problems(data))


def test_settings_the_description_owns_cannot_be_given_twice() -> None:
    data = network()
    data["bpps"][0]["settings"] = {"subscriber_url": "http://elsewhere"}
    assert any("settings.subscriber_url is set by the network description" in p for p in problems(data))


def test_subscriber_ids_must_be_unique() -> None:
    data = network(baps=[{"subscriber_id": "alpha.aggregator"}])
    assert any("subscriber ids must be unique: alpha.aggregator" in p for p in problems(data))


def test_two_parts_cannot_listen_on_one_address() -> None:
    data = network(registry={"port": 8100})
    data["baps"][0]["port"] = 8100
    assert any("127.0.0.1:8100" in p for p in problems(data))


def test_a_wildcard_listener_needs_a_public_url() -> None:
    data = network()
    data["baps"][0]["host"] = "0.0.0.0"
    assert any(p.startswith("baps[0]: ") and "public_url" in p for p in problems(data))
    data["baps"][0]["public_url"] = "http://10.1.2.3:8000"
    assert parse_network(data, source="net.yaml").baps[0].public_url == "http://10.1.2.3:8000"


def test_fleets_need_nats() -> None:
    data = network()
    del data["nats"]
    assert any("fleets need NATS" in p for p in problems(data))


def test_urls_must_be_urls() -> None:
    assert any(p.startswith("nats.url: ") for p in problems(network(nats={"url": "http://nats"})))
    data = network()
    data["bpps"][0]["public_url"] = "alpha.example"
    assert any(p.startswith("bpps[0].public_url: ") for p in problems(data))


def test_unreadable_and_non_mapping_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    with pytest.raises(NetworkFileError, match="cannot read it"):
        load_network(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(NetworkFileError, match="expected a mapping"):
        load_network(path)
    path.write_text("baps: [\n")
    with pytest.raises(NetworkFileError, match="not valid YAML"):
        load_network(path)


def test_the_directory_defaults_beside_the_file(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(network()))
    assert load_network(path).directory == tmp_path / "grid.d"
