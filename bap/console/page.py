"""`GET /console`: the operators' web console, a static page over the console WebSocket (docs/console.md).

The page and its few ES modules ship as package data in `bap/console/static/`; nothing is fetched from
anywhere else, and the Content-Security-Policy says so to the browser. Only the files listed in `ASSETS`
are served.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import RedirectResponse, Response

router = APIRouter(include_in_schema=False)

PAGE = "index.html"
ASSETS = {
    "console.css": "text/css; charset=utf-8",
    "format.js": "text/javascript; charset=utf-8",
    "state.js": "text/javascript; charset=utf-8",
    "view.js": "text/javascript; charset=utf-8",
    "socket.js": "text/javascript; charset=utf-8",
    "main.js": "text/javascript; charset=utf-8",
}

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def asset(name: str) -> bytes:
    return (resources.files("bap.console") / "static" / name).read_bytes()


@router.get("/")
async def root() -> RedirectResponse:
    return RedirectResponse("/console", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.get("/console")
async def console_page() -> Response:
    return Response(asset(PAGE), media_type="text/html; charset=utf-8", headers=HEADERS)


@router.get("/console/static/{name}")
async def console_asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no console asset {name!r}")
    return Response(asset(name), media_type=media_type, headers=HEADERS)
