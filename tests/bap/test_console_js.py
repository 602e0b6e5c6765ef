"""The web console's JavaScript modules under Node's own test runner (`tests/bap/console_js/*.test.mjs`).

The state reducer, number formatting and reconnection logic are plain ES modules, tested without a
browser. Skipped when Node.js 20+ is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).parent / "console_js"
NODE = shutil.which("node")


def node_major() -> int:
    if NODE is None:
        return 0
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, timeout=30).stdout
    return int(version.strip().lstrip("v").split(".")[0] or 0)


@pytest.mark.skipif(
    node_major() < 20, reason="the console's JavaScript tests need Node.js 20+ (`node --test`)"
)
def test_console_modules_pass_their_node_tests() -> None:
    files = sorted(TESTS.glob("*.test.mjs"))
    assert files, "no JavaScript tests found"
    assert NODE is not None
    result = subprocess.run(
        [NODE, "--test", *map(str, files)], capture_output=True, text=True, timeout=120, cwd=TESTS
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
