"""ASGI middleware of the lineage service: the body-size cap and the per-request audit entry.

The audit middleware writes one hash-chained entry per request (except ``/health``) in its own
transaction, after the response is complete, and turns unknown exceptions into a generic 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lineage.api.errors import error_response, internal_error, log
from lineage.audit import append_audit
from lineage.db.session import session_scope

UNAUDITED_PATHS = frozenset({"/health"})


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"body exceeds {limit} bytes")


class BodyLimitMiddleware:
    """Answer 413 when a body exceeds ``limit`` bytes, by header or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge(self.limit)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        await too_large(self.limit)(scope, receive, send)


def too_large(limit: int) -> JSONResponse:
    """The 413 answer to a body over ``limit`` bytes."""
    return error_response(413, "body_too_large", f"body exceeds {limit} bytes")


def _audit_fields(scope: Scope, status: int) -> dict[str, Any]:
    request = Request(scope)
    state: MutableMapping[str, Any] = scope.get("state", {})
    route = scope.get("route")
    path = getattr(route, "path", request.url.path)
    obj = state.get("audit_object") or request.url.path
    if request.url.query and "audit_object" not in state:
        obj = f"{obj}?{request.url.query}"
    return {
        "principal": state.get("principal_name", "anonymous"),
        "action": f"{request.method} {path}"[:64],
        "obj": obj if isinstance(obj, str) else json.dumps(obj),
        "allowed": status not in (401, 403),
        "source_address": request.client.host if request.client else "unknown",
    }


class AuditMiddleware:
    """Append one audit entry per request once the response is complete; hide unknown errors.

    Runs after the whole app (including dependency teardown and the request's commit), so the
    audit write never waits on the request's own transaction.
    """

    def __init__(self, app: ASGIApp, factory: Callable[[], sessionmaker[Session]]) -> None:
        self.app = app
        self.factory = factory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            status = 500
            await internal_error(exc)(scope, receive, send)
        if scope.get("path") not in UNAUDITED_PATHS and not scope.get("state", {}).get("audited"):
            await audit_request(self.factory(), scope, status)


async def audit_request(factory: sessionmaker[Session], scope: Scope, status: int) -> None:
    """Append the audit entry of a finished request in its own transaction (off the loop)."""
    fields = _audit_fields(scope, status)

    def write() -> None:
        with session_scope(factory) as session:
            append_audit(session, **fields)

    try:
        await run_in_threadpool(write)
    except Exception:
        # The response is already sent; the failure is logged loudly for operators.
        log.exception("could not append to the audit log: %s", fields)
