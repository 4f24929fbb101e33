"""ASGI middleware of the lineage service: the body-size cap and the per-request audit entry.

The audit middleware writes one hash-chained entry per request (except ``UNAUDITED_PATHS``) in
its own transaction before the response is sent, answers 503 instead when that write fails, and
turns unknown exceptions into a generic 500. Entries are chained with the key of the app's
settings (``LINEAGE_AUDIT_KEY``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lineage.api.errors import error_response, internal_error, lineage_error_response, log
from lineage.audit import append_audit
from lineage.db.availability import is_unavailable
from lineage.db.session import session_scope
from lineage.errors import StoreUnavailable
from lineage.limits import capped, declared_too_large
from lineage.settings import LineageSettings

# Liveness and the public API description: no token, no lineage data, nothing to audit.
UNAUDITED_PATHS = frozenset(
    {"/", "/console", "/health", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect"}
    | {"/redoc"}
)
# The console's static assets: public files, no lineage data (the pages' API calls are audited).
UNAUDITED_PREFIX = "/console/"


class BodyLimitMiddleware:
    """Answer 413 when a body exceeds ``limit`` bytes, by header or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_too_large(scope, self.limit):
            await too_large(self.limit)(scope, receive, send)
            return
        await self.app(scope, capped(receive, self.limit), send)


def too_large(limit: int) -> JSONResponse:
    """The 413 answer to a body over ``limit`` bytes."""
    return error_response(413, "body_too_large", f"body exceeds {limit} bytes")


def audit_fields(scope: Scope, status: int) -> dict[str, Any]:
    """The audit entry's fields for the request of ``scope`` answered with ``status``."""
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
        "allowed": status not in (401, 403) and not state.get("audit_denied", False),
        "source_address": request.client.host if request.client else "unknown",
    }


def is_audited(scope: Scope) -> bool:
    """Whether the request of ``scope`` gets an audit entry (all but ``UNAUDITED_PATHS``)."""
    path = scope.get("path", "")
    return path not in UNAUDITED_PATHS and not path.startswith(UNAUDITED_PREFIX)


class AuditMiddleware:
    """Append each request's audit entry before its response goes out; hide unknown errors.

    A route that returns normally has its entry appended and committed with its own transaction
    (``deps.get_session``), which marks the request audited. Any other answer (an error, a route
    without a session) gets its entry when the app starts its response, in a short transaction
    of its own: one chained insert. If it cannot be written, the response is not sent; the
    caller gets a 503 instead, so no request succeeds without its audit entry.
    """

    def __init__(self, app: ASGIApp, factory: Callable[[], sessionmaker[Session]]) -> None:
        self.app = app
        self.factory = factory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_audited(scope):
            await self.app(scope, receive, send)
            return
        started = replaced = False

        async def audited_send(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the app's body of a response that was replaced by the 503
            if message["type"] == "http.response.start":
                started = True
                audited = scope.get("state", {}).get("audited")
                if not audited and not await audit_request(
                    self.factory(), scope, message["status"]
                ):
                    replaced = True
                    await audit_unavailable()(scope, receive, send)
                    return
            await send(message)

        try:
            await self.app(scope, receive, audited_send)
        except Exception as exc:
            if started:
                raise
            await internal_error(exc)(scope, receive, audited_send)


def audit_key(scope: Scope) -> bytes | None:
    """The audit chain's key of the app serving ``scope`` (its ``LineageSettings``)."""
    settings: LineageSettings = scope["app"].state.settings
    return settings.audit_key_bytes


def audit_unavailable() -> JSONResponse:
    """The 503 answer to a request whose audit entry could not be written."""
    return lineage_error_response(StoreUnavailable(what="audit log"))


async def audit_request(factory: sessionmaker[Session], scope: Scope, status: int) -> bool:
    """Append the audit entry of a request in its own transaction (off the event loop).

    Returns:
        Whether it was written; a failure is logged with the entry's fields.

    """
    fields = audit_fields(scope, status)
    key = audit_key(scope)

    def write() -> None:
        with session_scope(factory) as session:
            append_audit(session, **fields, key=key)

    try:
        await run_in_threadpool(write)
    except Exception as exc:
        if is_unavailable(exc):  # one line per request while the database is down
            log.warning("could not append to the audit log, database unavailable: %s", fields)
        else:
            log.exception("could not append to the audit log: %s", fields)
        return False
    return True
