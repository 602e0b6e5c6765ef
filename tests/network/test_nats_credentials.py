"""Who the parts are on an external NATS: the network file gives each fleet its user (`nkey` or `creds`,
relative to the file) and each BPP's own settings give its service user, which `up` also uses to set up
the aggregator's streams; on the embedded server degflex makes every user itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from participant.network.plan import plan_network
from participant.network.spec import NetworkFileError, load_network, parse_network

FLEET = {"grid_node": "transformer:TX-17", "count": 4}


def external(fleet: dict[str, Any], **settings: str) -> dict[str, Any]:
    return {
        "nats": {"url": "nats://nats.example:4222"},
        "bpps": [{"subscriber_id": "alpha.aggregator", "fleets": [fleet], "settings": settings}],
    }


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(NetworkFileError) as caught:
        parse_network(data, source="net.yaml")
    return caught.value.problems


def test_fleet_credentials_are_for_an_external_server_only() -> None:
    data = external({**FLEET, "nkey": "sim.nk"})
    data["nats"] = {}
    assert problems(data) == [
        "fleets' nkey/creds are for an external NATS: the embedded one makes its own users"
    ]


def test_a_fleet_gives_one_credential_and_a_bpp_consistent_ones() -> None:
    assert problems(external({**FLEET, "nkey": "sim.nk", "creds": "sim.creds"})) == [
        "bpps[0].fleets[0]: give nkey or creds, not both"
    ]
    assert problems(external(FLEET, nats_user="bpp")) == [
        "bpps[0]: settings: give a user and a password together"
    ]


def test_the_file_names_each_user_and_the_plan_hands_them_to_the_processes(tmp_path: Path) -> None:
    path = tmp_path / "network.yaml"
    path.write_text(
        yaml.safe_dump(external({**FLEET, "nkey": "keys/sim.nk"}, nats_nkey_seed_file="/k/bpp.nk"))
    )
    spec = load_network(path)
    assert spec.bpps[0].fleets[0].nkey == tmp_path / "keys" / "sim.nk", "relative to the file"

    plan = plan_network(spec, tmp_path / "net")
    assert plan.nats is not None and plan.nats.process is None
    assert plan.nats.service["alpha"].nkey_seed_file == Path("/k/bpp.nk"), "streams are set up as the BPP"
    argv = list(plan.fleets[0].process.argv)
    assert argv[argv.index("--nkey") + 1] == str(tmp_path / "keys" / "sim.nk")
    assert yaml.safe_load(plan.bpps[0].config_path.read_text())["nats_nkey_seed_file"] == "/k/bpp.nk"


def test_a_fleet_can_log_in_with_a_creds_file(tmp_path: Path) -> None:
    spec = parse_network(external({**FLEET, "creds": "/k/sim.creds"}), source="n", base=tmp_path)
    argv = list(plan_network(spec, tmp_path).fleets[0].process.argv)
    assert argv[argv.index("--creds") + 1] == "/k/sim.creds" and "--nkey" not in argv
