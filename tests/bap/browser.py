"""Headless Chromium for the web console's tests, driven over the DevTools protocol.

Debian's `chromium` is started with a fresh profile and `--remote-debugging-port=0`; the page is driven
through its DevTools WebSocket with the `websockets` client the BAP already depends on, so no driver
binary and no browser download are needed. Clicks and keys are real input events at the element's
position, so a hidden or covered button cannot be clicked.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

TIMEOUT = 30.0
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-default-browser-check",
    "--mute-audio",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def chromium_path() -> str | None:
    """`DEGFLEX_TEST_CHROMIUM`, else Debian's `chromium` on the PATH."""
    configured = os.environ.get("DEGFLEX_TEST_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(AssertionError):
    """The browser did not do what the test asked (a failed navigation, script or wait)."""


class Page:
    """One tab: evaluate JavaScript, wait for a condition, click, type, take screenshots."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.ids = itertools.count(1)
        self.errors: list[str] = []
        self.send("Runtime.enable")
        self.send("Log.enable")
        self.send("Page.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        self.connection.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.connection.recv(timeout=TIMEOUT))
            if message.get("id") == call_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        """Keep what went wrong in the page: uncaught exceptions, console errors, CSP reports."""
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(str(details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(
                " ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"])
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append(str(params["entry"].get("text")))

    def viewport(self, width: int, height: int) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = TIMEOUT, what: str | None = None) -> Any:
        """Poll `expression` until it is truthy; its value. Fails with the page's text on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                text = self.evaluate("document.body ? document.body.innerText : ''")
                raise BrowserError(f"timed out waiting for {what or expression}; the page shows:\n{text}")
            time.sleep(0.1)

    def text(self, selector: str) -> str:
        return str(self.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText ?? ''"))

    def click(self, selector: str) -> None:
        """A real mouse click at the middle of the element, after scrolling it into view."""
        box = self.evaluate(
            f"""(() => {{
              const element = document.querySelector({json.dumps(selector)});
              if (!element) return null;
              element.scrollIntoView({{block: 'center'}});
              const r = element.getBoundingClientRect();
              const x = r.left + r.width / 2, y = r.top + r.height / 2;
              const hit = document.elementFromPoint(x, y);
              return {{x, y, visible: r.width > 0 && r.height > 0 && !!hit && element.contains(hit)}};
            }})()"""
        )
        if not box or not box["visible"]:
            raise BrowserError(f"{selector} is not there to click ({box})")
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1
            )

    def type(self, selector: str, text: str, *, enter: bool = False) -> None:
        self.click(selector)
        self.send("Input.insertText", text=text)
        if enter:
            self.press("Enter", code=13, text="\r")

    def press(self, key: str, *, code: int, text: str | None = None) -> None:
        down: dict[str, Any] = {"type": "keyDown", "key": key, "code": key, "windowsVirtualKeyCode": code}
        if text is not None:
            down["text"] = text
        self.send("Input.dispatchKeyEvent", **down)
        self.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=key, windowsVirtualKeyCode=code)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def chromium(executable: str) -> Iterator[Page]:
    """A headless Chromium with a throw-away profile; its one page, closed and removed afterwards."""
    profile = Path(tempfile.mkdtemp(prefix="degflex-chromium-"))
    log = (profile / "chromium.log").open("wb")
    process = subprocess.Popen(
        [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        port = _devtools_port(profile, process)
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=TIMEOUT).json()
        page = next(target for target in targets if target["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=TIMEOUT) as connection:
            yield Page(connection)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    """Chromium writes the port it chose to `DevToolsActivePort` in the profile."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = (profile / "chromium.log").read_text(errors="replace")
            raise BrowserError(f"chromium exited with {process.returncode}:\n{output[-2000:]}")
        if marker.exists():
            first = marker.read_text().splitlines()[:1]
            if first and first[0].isdigit():
                return int(first[0])
        time.sleep(0.05)
    raise BrowserError("chromium did not open its DevTools port")
