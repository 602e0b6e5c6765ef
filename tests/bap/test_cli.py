"""`degflex bap`: help, clear start-up errors, and a real start from a config file."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from participant.cli import main
from registry_client.keys import generate_identity
from tests.bap.conftest import OPERATOR_TOKEN, OPERATORS
from tests.support.databases import sqlite_url
from tests.support.network import register, registry_server
from tests.support.servers import ProcessServer, free_port, python_module


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("DEGFLEX_BAP_"):
            monkeypatch.delenv(name)


def config(path: Path, **values: object) -> Path:
    path.write_text(yaml.safe_dump(values))
    return path


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["bap", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "--config FILE" in text and "DEGFLEX_BAP_" in text


def test_missing_settings_are_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["bap", "--config", str(config(tmp_path / "bap.yaml", port=9))]) == 2
    error = capsys.readouterr().err
    assert "invalid settings" in error
    for name in ("subscriber_id (DEGFLEX_BAP_SUBSCRIBER_ID)", "signing_private_key", "unique_key_id"):
        assert name in error


def test_no_operators_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    identity = generate_identity("utility.bap")
    path = config(
        tmp_path / "bap.yaml",
        subscriber_id="utility.bap",
        subscriber_url="http://127.0.0.1:9",
        unique_key_id=identity.unique_key_id,
        signing_private_key=identity.signing_private_key,
        registry_url="http://127.0.0.1:9",
    )
    assert main(["bap", "--config", str(path)]) == 2
    assert "no operators" in capsys.readouterr().err


def test_a_short_operator_token_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    identity = generate_identity("utility.bap")
    path = config(
        tmp_path / "bap.yaml",
        subscriber_id="utility.bap",
        subscriber_url="http://127.0.0.1:9",
        unique_key_id=identity.unique_key_id,
        signing_private_key=identity.signing_private_key,
        registry_url="http://127.0.0.1:9",
        operators=[{"name": "desk", "role": "operator", "token": "short"}],
    )
    assert main(["bap", "--config", str(path)]) == 2
    assert "at least 16 characters" in capsys.readouterr().err


def test_the_bap_starts_from_a_config_file(tmp_path: Path) -> None:
    identity = generate_identity("utility.bap")
    port = free_port()
    with registry_server(tmp_path) as registry:
        register(registry.url, identity, type="BAP", url=f"http://127.0.0.1:{port}")
        path = config(
            tmp_path / "bap.yaml",
            subscriber_id="utility.bap",
            subscriber_url=f"http://127.0.0.1:{port}",
            unique_key_id=identity.unique_key_id,
            signing_private_key=identity.signing_private_key,
            registry_url=registry.url,
            operators=OPERATORS,
            database_url=sqlite_url(tmp_path, "bap"),
        )
        server = ProcessServer(
            python_module("participant.cli", "bap", "--config", str(path), "--port", str(port)),
            url=f"http://127.0.0.1:{port}",
            log_path=tmp_path / "bap.log",
        )
        with server:
            assert httpx.get(f"{server.url}/health").json()["role"] == "BAP"
            assert httpx.get(f"{server.url}/metrics").status_code == 200
            status = httpx.get(
                f"{server.url}/api/status", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}
            )
            assert status.status_code == 200 and status.json()["aggregators"] == []
