"""`GET /console`: the page and its modules are served from package data, with their content types, and
nothing in them points anywhere but the BAP itself."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import httpx
import pytest

from bap.app import create_bap_app
from bap.console.page import ASSETS, CONTENT_SECURITY_POLICY
from tests.bap.conftest import bap_settings
from tests.support.network import new_member

STATIC = resources.files("bap.console") / "static"
EXTERNAL = re.compile(
    r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|(?<![a-z])url\((?!["']?data:)""", re.IGNORECASE
)
ATTRIBUTE_URL = re.compile(r"""\b(?:src|href)=["']([^"']+)["']""")
MODULE_IMPORT = re.compile(r"""^import\s.*?from\s+["']([^"']+)["'];?$""", re.MULTILINE | re.DOTALL)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The BAP app without its lifespan: static routes need neither database nor network."""
    app = create_bap_app(bap_settings(new_member(tmp_path, "utility.bap"), "http://127.0.0.1:9"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bap") as client:
        yield client


async def test_the_root_redirects_to_the_console(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 307
    assert response.headers["location"] == "/console"


async def test_the_console_page_is_html_that_only_loads_its_own_assets(client: httpx.AsyncClient) -> None:
    response = await client.get("/console")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert '<html lang="en">' in html and '<meta name="viewport"' in html
    referenced = [url for url in ATTRIBUTE_URL.findall(html) if not url.startswith(("#", "data:"))]
    assert sorted(referenced) == ["/console/static/console.css", "/console/static/main.js"]
    assert '<script type="module" src="/console/static/main.js">' in html
    for url in referenced:
        assert (await client.get(url)).status_code == 200, url


@pytest.mark.parametrize("name", sorted(ASSETS))
async def test_every_asset_is_served_with_its_content_type(client: httpx.AsyncClient, name: str) -> None:
    response = await client.get(f"/console/static/{name}")
    assert response.status_code == 200
    expected = "text/css" if name.endswith(".css") else "text/javascript"
    assert response.headers["content-type"] == f"{expected}; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.content == (STATIC / name).read_bytes()


@pytest.mark.parametrize("name", ["page.py", "..%2Fpage.py", "package.json", "index.html", "missing.js"])
async def test_only_listed_assets_are_served(client: httpx.AsyncClient, name: str) -> None:
    assert (await client.get(f"/console/static/{name}")).status_code == 404


def test_every_static_file_is_listed_and_every_module_import_is_served() -> None:
    shipped = {entry.name for entry in STATIC.iterdir() if entry.is_file()}
    assert shipped == set(ASSETS) | {"index.html", "package.json"}
    for name in ASSETS:
        if not name.endswith(".js"):
            continue
        for target in MODULE_IMPORT.findall((STATIC / name).read_text()):
            assert target.startswith("./"), f"{name} imports {target}: only sibling modules are allowed"
            assert target[2:] in ASSETS, f"{name} imports {target}, which is not served"


@pytest.mark.parametrize("name", ["index.html", *sorted(ASSETS)])
def test_no_file_points_outside_the_bap(name: str) -> None:
    text = (STATIC / name).read_text()
    assert EXTERNAL.findall(text) == [], f"{name} refers to something outside the BAP"
    assert 'fetch("http' not in text and 'new WebSocket("ws' not in text
