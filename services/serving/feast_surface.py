"""The feature server under ``/feast``: the same routes, errors in Feast's own shape.

Feast's clients (its remote online store, ``online_store: type: remote``) parse an error body as
Feast's server writes it: a JSON *string* holding ``{"module", "class", "message"}``, from which
the client re-raises that Feast exception class. Skewless's own error body is a JSON object
(``error``, ``detail``, ``request_id``, row-level ``reasons``), which Feast's client cannot read
("Invalid error detail"). A client cannot say which shape it wants (Feast's sends no distinctive
header), so the shape follows the path: point Feast's client at ``http://<server>/feast``.

Under that prefix every route, token check, rate limit and audit is the same; only an error
answer is rewritten, keeping Skewless's fields inside the detail for whoever reads it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/feast"

# Skewless error code -> the Feast exception class its client re-raises.
_FEAST_CLASS = {
    "unknown_feature_service": "FeatureServiceNotFoundException",
    "unknown_feature": "FeatureViewNotFoundException",
    "unknown_source": "PushSourceNotFoundException",
    "unauthorized": "FeastPermissionError",
    "forbidden": "FeastPermissionError",
}


def feast_error_detail(body: bytes) -> bytes:
    """Skewless's error body as Feast's: a JSON string of module, class, message and ours."""
    try:
        ours: Any = json.loads(body)
    except ValueError:
        ours = {"error": "error", "detail": body.decode("utf-8", "replace")}
    if not isinstance(ours, dict):
        ours = {"error": "error", "detail": str(ours)}
    code = str(ours.get("error", "error"))
    detail = {
        "module": "feast.errors",
        "class": _FEAST_CLASS.get(code, "FeastError"),
        "message": f"{ours.get('detail', code)} (error {code}, request {ours.get('request_id')})",
        **ours,
    }
    return json.dumps(json.dumps(detail)).encode()


class FeastSurface:
    """Pure ASGI middleware: serve ``/feast/<route>`` as ``/<route>`` with Feast's error shape."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        inner = path[len(PREFIX) :]
        scope = {**scope, "path": inner, "raw_path": inner.encode()}
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] >= 400:
                start = message  # held until the whole error body is known
                return
            if start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = feast_error_detail(b"".join(chunks))
            headers = [
                (k, v)
                for k, v in start.get("headers", [])
                if k.lower() not in (b"content-length", b"content-type")
            ]
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)
