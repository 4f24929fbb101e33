"""``skewless console``: the web console on its own, in front of a lineage service elsewhere.

The console's pages call ``/api/...`` on the origin that served them. Served alone, this app
forwards those reads (GET only: the console never writes) to the lineage service with the
caller's own bearer token, so grants, redaction and the audit log apply exactly as they do
when ``skewless lineage serve`` serves the console itself. Nothing is cached or stored here.
"""

from __future__ import annotations

import urllib.error
import urllib.request

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lineage.api.console import ASSETS, CONSOLE_PATH

TIMEOUT_S = 30.0
_FORWARDED = ("authorization", "accept")


def create_console_app(lineage_url: str) -> Starlette:
    """The console's assets, and ``/api/*`` and ``/health`` reads forwarded to ``lineage_url``."""
    upstream = lineage_url.rstrip("/")

    def fetch(url: str, headers: dict[str, str]) -> tuple[int, bytes, str]:
        request = urllib.request.Request(url, headers=headers, method="GET")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                return answer.status, answer.read(), answer.headers.get("content-type", "")
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers.get("content-type", "")

    async def forward(request: Request) -> Response:
        url = f"{upstream}{request.url.path}"
        if request.url.query:
            url = f"{url}?{request.url.query}"
        headers = {k: v for k, v in request.headers.items() if k in _FORWARDED}
        try:
            status, body, media = await run_in_threadpool(fetch, url, headers)
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            detail = f"the lineage service at {upstream} does not answer: {reason}"
            return JSONResponse({"code": "upstream_unavailable", "detail": detail}, 502)
        return Response(body, status_code=status, media_type=media or None)

    def home(_: Request) -> RedirectResponse:
        return RedirectResponse(f"{CONSOLE_PATH}/", status_code=307)

    return Starlette(
        routes=[
            Route("/", home),
            Route("/health", forward),
            Route("/api/{path:path}", forward),
            Mount(CONSOLE_PATH, StaticFiles(directory=ASSETS, html=True), name="console"),
        ]
    )
