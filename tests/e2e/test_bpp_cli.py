"""`degflex bpp` refuses to start on settings it cannot use, saying which and how to fix them (no traceback),
and starts with a config file whose settings the environment can override."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from registry_client.keys import generate_identity
from tests.support.databases import sqlite_url
from tests.support.servers import REPO_ROOT, ProcessServer, free_port, python_module

pytestmark = pytest.mark.slow


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO_ROOT
) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("DEGFLEX_BPP_")}
    return subprocess.run(
        [sys.executable, "-m", "participant.cli", "bpp", *args],
        env={**clean, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def config(path: Path, **values: Any) -> Path:
    identity = generate_identity("aggregator.bpp")
    settings: dict[str, Any] = {
        "subscriber_id": identity.subscriber_id,
        "subscriber_url": "http://127.0.0.1:9",
        "unique_key_id": identity.unique_key_id,
        "signing_private_key": identity.signing_private_key,
        "registry_url": "http://127.0.0.1:9",
        "database_url": sqlite_url(path.parent, "bpp"),
    }
    settings.update(values)
    path.write_text(yaml.safe_dump({key: value for key, value in settings.items() if value is not None}))
    return path


def refused(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_help_explains_where_settings_come_from() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "--config FILE" in result.stdout and "DEGFLEX_BPP_" in result.stdout


def test_missing_identity_and_keys_are_named_with_their_variables(tmp_path: Path) -> None:
    stderr = refused(run(cwd=tmp_path))
    assert "subscriber_id: Field required (set DEGFLEX_BPP_SUBSCRIBER_ID" in stderr
    assert "signing_private_key: Field required (set DEGFLEX_BPP_SIGNING_PRIVATE_KEY" in stderr


def test_settings_that_cannot_work_are_refused_before_starting(tmp_path: Path) -> None:
    no_registry = config(tmp_path / "a.yaml", registry_url=None)
    assert "set registry_url or registry_file" in refused(run("--config", str(no_registry)))

    bad_url = config(tmp_path / "b.yaml", subscriber_url="aggregator.example")
    assert "subscriber_url: 'aggregator.example' is not an http(s) URL" in refused(
        run("--config", str(bad_url))
    )

    bad_key = config(tmp_path / "c.yaml", signing_private_key="bm90IGEga2V5")
    assert "signing_private_key:" in refused(run("--config", str(bad_key)))

    offers = tmp_path / "offers.yaml"
    offers.write_text(
        yaml.safe_dump({"offers": [{"grid_node": "transformer:TX-1", "direction": "SIDEWAYS"}]})
    )
    stderr = refused(run("--config", str(config(tmp_path / "d.yaml", offers_file=str(offers)))))
    assert f"offers_file: {offers}: offers[0]" in stderr and "direction" in stderr

    operators = [{"name": "desk", "role": "viewer", "token": "short"}]
    stderr = refused(run("--config", str(config(tmp_path / "e.yaml", operators=operators))))
    assert "operators: entry 0: token: token must be at least 16 characters" in stderr

    assert "cannot read the config file" in refused(run("--config", str(tmp_path / "missing.yaml")))

    nowhere = sqlite_url(tmp_path / "no-such-directory", "bpp")
    stderr = refused(run("--config", str(config(tmp_path / "f.yaml", database_url=nowhere))), code=1)
    assert "is not a directory" in stderr


def test_the_environment_overrides_the_config_file_and_options_override_both(tmp_path: Path) -> None:
    port = free_port()
    path = config(tmp_path / "bpp.yaml", provider_name="From the file", port=1)
    server = ProcessServer(
        python_module("participant.cli", "bpp", "--config", str(path), "--port", str(port)),
        url=f"http://127.0.0.1:{port}",
        env={"DEGFLEX_BPP_PROVIDER_NAME": "From the environment"},
        log_path=tmp_path / "bpp.log",
    )
    with server:
        openapi = httpx.get(f"{server.url}/openapi.json").json()
    assert openapi["info"]["title"] == "degflex BPP From the environment"
