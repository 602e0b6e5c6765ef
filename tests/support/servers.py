"""Real servers for tests: an ASGI app on a uvicorn port in a thread, or a whole process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import uvicorn
from fastapi import FastAPI

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(predicate: object, *, timeout: float = 20.0, interval: float = 0.02, what: str = "") -> None:
    """Poll `predicate()` until it is truthy; fail the test with `what` when it never becomes so."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")


class ThreadedServer:
    """Runs an ASGI app with uvicorn on a real port in a background thread."""

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn:{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), what=f"uvicorn on {self.url}")
        if not self.server.started:
            raise RuntimeError(f"uvicorn on {self.url} failed to start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class ProcessServer:
    """A degflex process (or any command) that serves HTTP; ready when `health_path` answers 200."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        url: str,
        env: Mapping[str, str] | None = None,
        health_path: str = "/health",
        log_path: Path | None = None,
        cwd: Path = REPO_ROOT,
    ) -> None:
        self.args = list(args)
        self.url = url.rstrip("/")
        self.env = {**os.environ, **(env or {})}
        self.health_path = health_path
        self.log_path = log_path
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 30.0) -> Self:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                self.args, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT
            )
        finally:
            if not isinstance(log, int):
                log.close()  # the child holds its own descriptor
        wait_until(self._ready, timeout=timeout, what=f"{self.args[0]} at {self.url}{self.health_path}")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = self.log_path.read_text()[-3000:] if self.log_path and self.log_path.exists() else ""
            raise RuntimeError(f"{self.args} exited with {self.process.returncode}\n{tail}")
        try:
            return httpx.get(self.url + self.health_path, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up (crash test)."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
