"""Mapping of lineage errors to HTTP responses: the only place status codes are chosen.

A database that cannot be reached (``lineage.db.availability.is_unavailable``) is a 503 with
``Retry-After``, like every 503 here: the request was fine and may be sent again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from lineage.api.schemas import ErrorResponse
from lineage.db.availability import is_unavailable
from lineage.errors import (
    BodyTooLarge,
    Conflict,
    Forbidden,
    InvalidEvent,
    InvalidQuery,
    InvalidReference,
    LineageError,
    NotFound,
    NotVisible,
    StoreUnavailable,
    Unauthenticated,
)

log = logging.getLogger("lineage.api")

# Most specific first: the first matching class decides. ``NotVisible`` is a ``NotFound`` and
# answers as one, word for word: a read outside the grants must not tell that the object exists.
STATUS: list[tuple[type[LineageError], int, str]] = [
    (InvalidReference, 422, "invalid_reference"),
    (InvalidEvent, 422, "invalid_event"),
    (InvalidQuery, 422, "invalid_query"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (Unauthenticated, 401, "unauthenticated"),
    (Forbidden, 403, "forbidden"),
    (BodyTooLarge, 413, "body_too_large"),
    (StoreUnavailable, 503, "unavailable"),
]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
# Seconds a client should wait before sending a request answered 503 again.
RETRY_AFTER_S = 5


def rate_limited_body(wait_s: float) -> bytes:
    """The 429 body of :class:`lineage.ratelimit.RateLimit` in the ``ErrorResponse`` shape."""
    detail = f"too many requests: retry in {wait_s:.1f} s"
    return ErrorResponse(code="rate_limited", detail=detail).model_dump_json().encode()


def error_response(
    status: int,
    code: str,
    detail: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Build a JSON error body in the ``ErrorResponse`` shape (401: a challenge; 503: a retry)."""
    body = ErrorResponse(code=code, detail=detail, field=field)
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_S)
    return JSONResponse(body.model_dump(by_alias=True, exclude_none=True), status, headers)


def internal_error(exc: BaseException) -> JSONResponse:
    """Log an unexpected error under a fresh request id and answer a generic 500."""
    request_id = uuid.uuid4().hex
    log.error("unhandled error, request id %s", request_id, exc_info=exc)
    body = ErrorResponse(code="internal_error", detail="internal error", requestId=request_id)
    return JSONResponse(body.model_dump(by_alias=True, exclude_none=True), 500)


def lineage_error_response(exc: Exception) -> JSONResponse:
    """The response for a lineage error (an unknown one is an internal error)."""
    for kind, status, code in STATUS:
        if isinstance(exc, kind):
            return error_response(status, code, str(exc), getattr(exc, "field", None))
    return internal_error(exc)


def data_error_response() -> JSONResponse:
    """The response when the database refused a request value: bad input, not a bug."""
    return error_response(422, "invalid_request", "a value is not storable or comparable")


def database_error_response(exc: Exception) -> JSONResponse:
    """503 when the database cannot be reached or used now; any other database error is a bug."""
    if not is_unavailable(exc):
        return internal_error(exc)
    log.warning("lineage database unavailable: %s", (str(exc).strip().splitlines() or [""])[0])
    return lineage_error_response(StoreUnavailable(what="lineage database"))


async def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    return database_error_response(exc)


async def _lineage_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, NotVisible):
        # The caller gets the 404 of a missing object; the audit log records a denied read.
        request.state.audit_denied = True
    return lineage_error_response(exc)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        return internal_error(exc)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    field = ".".join(str(p) for p in first.get("loc", ()))
    return error_response(422, "invalid_request", str(first.get("msg")), field or None)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (``Allow`` of a 405).

    Each method is tried against the app's routes (Starlette's own 405 names only the methods
    of the first route matching the path, so a path served by a GET route and a POST route
    would advertise one of them).
    """
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        return internal_error(exc)
    if exc.status_code == 400:
        # FastAPI's only 400: a body it could not decode (not UTF-8). A body that is not JSON is
        # a 422 from FastAPI and from intake alike, so this one is too.
        return error_response(422, "invalid_request", "body: not valid JSON", "body")
    if exc.status_code == 405:
        allow = ", ".join(allowed_methods(request))
        return error_response(
            405,
            "method_not_allowed",
            f"method not allowed; allowed: {allow}",
            None,
            {"Allow": allow},
        )
    codes = {404: "not_found", 413: "body_too_large"}
    return error_response(
        exc.status_code,
        codes.get(exc.status_code, "http_error"),
        str(exc.detail),
        None,
        exc.headers,
    )


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    # The database refused a value (a NUL in text, a number out of range): bad input, not a bug.
    log.info("database refused a request value: %s", exc)
    return data_error_response()


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping on ``app``."""
    app.add_exception_handler(DataError, _data_error)
    for unavailable in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(unavailable, _database_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(LineageError, _lineage_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
