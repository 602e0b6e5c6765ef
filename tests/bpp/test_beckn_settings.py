"""`BppSettings`: the BPP's own environment prefix, a config file below the environment, and the checks
`degflex bpp` runs before it starts."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from bpp.app import check_configuration, operator_registry
from bpp.settings import BppSettings
from participant.errors import ConfigurationError
from registry_client.keys import generate_identity
from tests.bpp.flex_network import OPERATORS, offer, write_offers

IDENTITY = generate_identity("aggregator.bpp")
REQUIRED: dict[str, Any] = {
    "subscriber_id": IDENTITY.subscriber_id,
    "subscriber_url": "https://aggregator.example",
    "unique_key_id": IDENTITY.unique_key_id,
    "signing_private_key": IDENTITY.signing_private_key,
    "registry_url": "https://registry.example",
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in os.environ:
        if name.startswith(("DEGFLEX_BPP_", "DEGFLEX_PEER_")):
            monkeypatch.delenv(name)


def test_settings_come_from_the_bpp_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(f"DEGFLEX_BPP_{name.upper()}", value)
    monkeypatch.setenv("DEGFLEX_PEER_PROVIDER_NAME", "not ours")
    monkeypatch.setenv("DEGFLEX_BPP_QUOTE_TTL_SECONDS", "60")

    settings = BppSettings()

    assert settings.provider == IDENTITY.subscriber_id
    assert settings.provider_name == "degflex aggregator"
    assert settings.order_rules.quote_ttl.total_seconds() == 60 and settings.order_rules.update_cutoff is None
    assert (settings.port, settings.callback_on_empty_search) == (8200, False)


def test_holds_last_hold_ttl_seconds_but_never_longer_than_the_quote(monkeypatch: pytest.MonkeyPatch) -> None:
    assert BppSettings(**REQUIRED).order_rules.held_for == timedelta(minutes=10)
    monkeypatch.setenv("DEGFLEX_BPP_HOLD_TTL_SECONDS", "120")
    assert BppSettings(**REQUIRED).order_rules.held_for == timedelta(minutes=2)
    assert BppSettings(**REQUIRED, quote_ttl_seconds=60).order_rules.held_for == timedelta(minutes=1)
    for wrong in ("0", "-5", "ten minutes"):
        monkeypatch.setenv("DEGFLEX_BPP_HOLD_TTL_SECONDS", wrong)
        with pytest.raises(ValidationError, match="hold_ttl_seconds"):
            BppSettings(**REQUIRED)


def test_the_environment_wins_over_the_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "bpp.yaml"
    config.write_text(
        yaml.safe_dump({**REQUIRED, "provider_name": "file", "provider_id": "file", "port": 9000})
    )
    monkeypatch.setenv("DEGFLEX_BPP_PROVIDER_NAME", "environment")
    monkeypatch.setenv("DEGFLEX_BPP_CONFIG_FILE", str(config))

    settings = BppSettings(port=9100)

    assert (settings.provider_name, settings.provider, settings.port) == ("environment", "file", 9100)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[1, 2]", "must hold a mapping"),
        ("a: [", "not valid YAML/JSON"),
        (None, "cannot read the config file"),
    ],
)
def test_a_config_file_that_cannot_be_used_is_named(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    config = tmp_path / "bpp.yaml"
    if content is not None:
        config.write_text(content)
    with pytest.raises(ConfigurationError, match=problem):
        BppSettings(config_file=config)


def test_operators_come_from_one_place(tmp_path: Path) -> None:
    assert len(operator_registry(BppSettings(**REQUIRED, operators=OPERATORS))) == 3
    path = tmp_path / "operators.yaml"
    path.write_text(yaml.safe_dump({"operators": OPERATORS[:1]}))
    assert len(operator_registry(BppSettings(**REQUIRED, operators_file=path))) == 1
    with pytest.raises(ConfigurationError, match="not both"):
        operator_registry(BppSettings(**REQUIRED, operators_file=path, operators=OPERATORS))


def test_start_up_checks_name_what_to_fix(tmp_path: Path) -> None:
    check_configuration(BppSettings(**REQUIRED, offers_file=write_offers(tmp_path / "ok.yaml", offer())))

    with pytest.raises(ConfigurationError, match="^signing_private_key: "):
        check_configuration(BppSettings(**{**REQUIRED, "signing_private_key": "c2hvcnQ="}))
    with pytest.raises(ConfigurationError, match="^encryption_private_key: "):
        check_configuration(BppSettings(**REQUIRED, encryption_private_key="c2hvcnQ="))
    bad_offers = write_offers(tmp_path / "bad.yaml", offer(min_kw=50, max_kw=10))
    with pytest.raises(ConfigurationError, match=r"offers_file: .*offers\[0\].*max_kw"):
        check_configuration(BppSettings(**REQUIRED, offers_file=bad_offers))
