"""Map data-plane errors to HTTP responses, in one place.

Client mistakes are 4xx with a reason (never a 500); an unavailable online store
or registry is 503; anything unexpected is a generic 500 with a request id, logged.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from lineage.errors import BodyTooLarge
from services.errors import (
    BatchRejectedError,
    EntityKeyError,
    InputError,
    OnlineStoreUnavailableError,
    RegistryUnavailableError,
    RequestDataError,
    RequestError,
    RequestTooLargeError,
    UnknownFeatureError,
    UnknownFeatureServiceError,
    UnknownSourceError,
)
from services.serving.auth import AuthError

log = logging.getLogger("skewless.serving")


class NotServedError(Exception):
    """A Feast feature-server route Skewless does not serve, on purpose (a 404 that says why)."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path} is not served: online values are written only by `skewless materialize`, "
            "ingest and /push, which validate rows against the contracts and keep the offline "
            "store in step"
        )


_STATUS: list[tuple[type[Exception], int, str]] = [
    (NotServedError, 404, "not_served"),
    (UnknownFeatureServiceError, 404, "unknown_feature_service"),
    (UnknownSourceError, 404, "unknown_source"),
    (UnknownFeatureError, 422, "unknown_feature"),
    (EntityKeyError, 422, "bad_entity_key"),
    (RequestDataError, 422, "bad_request_data"),
    (RequestTooLargeError, 413, "too_large"),
    (BatchRejectedError, 422, "rows_rejected"),
    (InputError, 422, "unusable_input"),
    (RequestError, 422, "bad_request"),
    (OnlineStoreUnavailableError, 503, "online_store_unavailable"),
    (BodyTooLarge, 413, "too_large"),
]


_AUTH_CODES = {401: "unauthorized", 403: "forbidden", 503: "auth_unavailable"}


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "-"))


def error_body(request: Request, error: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": error, "detail": detail, "request_id": request_id(request), **extra}


def rate_limited_body(wait_s: float) -> bytes:
    """The 429 body of :class:`lineage.ratelimit.RateLimit` (answered before a request id)."""
    body = {"error": "rate_limited", "detail": f"too many requests: retry in {wait_s:.1f} s"}
    return json.dumps({**body, "request_id": None}).encode()


def error_response(request: Request, exc: Exception) -> JSONResponse:
    """The response for any exception a route raised: the one status mapping of this app."""
    if isinstance(exc, AuthError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            error_body(request, _AUTH_CODES[exc.status], str(exc)),
            status_code=exc.status,
            headers=headers,
        )
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse(
            error_body(request, "invalid_request", f"{where}: {first.get('msg', 'invalid')}"),
            status_code=422,
        )
    for exc_type, status, code in _STATUS:
        if isinstance(exc, exc_type):
            extra: dict[str, Any] = {}
            if isinstance(exc, BatchRejectedError):
                from services.serving.service import read_reasons

                extra["reasons"] = read_reasons(exc.result)
            if isinstance(exc, OnlineStoreUnavailableError):
                request.app.state.metrics.store_errors.inc()
            return JSONResponse(error_body(request, code, str(exc), **extra), status_code=status)
    registry = RegistryUnavailableError.of(exc, request.app.state.registry_url)
    if registry is not None:  # the request was fine and may be sent again
        log.warning("request %s: %s", request_id(request), registry)
        return JSONResponse(
            error_body(request, "registry_unavailable", str(registry)), status_code=503
        )
    log.exception("unhandled error, request %s", request_id(request), exc_info=exc)
    return JSONResponse(error_body(request, "internal_error", "internal error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    for exc_type in [AuthError, RequestValidationError, *(t for t, _, _ in _STATUS), Exception]:
        app.add_exception_handler(exc_type, error_response)
