"""The feature server app: ``create_app(settings)`` with a lifespan, middleware and routes.

Routes parse, authorize, call :class:`services.serving.service.FeatureService` and
return a response. Run with ``skewless serve`` (uvicorn, no worker recycling).

``/get-online-features`` is the hot path and runs on the event loop end to end: the body is
parsed and validated by pydantic-core in one pass, the token check is served from memory,
Redis is read asynchronously, and the answer is serialized from plain lists. Everything else
(push, health) is a plain ``def`` route in the threadpool.
"""

from __future__ import annotations

import gc
import json
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lineage.limits import capped, declared_too_large
from lineage.ratelimit import RateLimit
from services.applied import unapplied_note
from services.serving.auth import Authenticator, Caller
from services.serving.errors import (
    NotServedError,
    error_response,
    install_error_handlers,
    log,
    rate_limited_body,
)
from services.serving.feast_surface import FeastSurface
from services.serving.metrics import make_metrics
from services.serving.schemas import (
    ErrorResponse,
    GetOnlineFeaturesRequest,
    GetOnlineFeaturesResponse,
    HealthResponse,
    PushRequest,
    PushResponse,
)
from services.serving.service import FeatureService
from services.settings import Settings, get_settings
from services.store import Store

ROUTES = frozenset({"/get-online-features", "/push", "/health", "/metrics"})
_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 413, 422, 500, 503)
}


def _service(request: Request) -> FeatureService:
    service: FeatureService = request.app.state.service
    return service


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _writer(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    auth: Authenticator = request.app.state.auth
    return auth.check(authorization, "write", _client(request))


async def _reader(request: Request) -> Caller:
    """The caller allowed to read, checked on the event loop (a thread only for a new token)."""
    auth: Authenticator = request.app.state.auth
    header, client = request.headers.get("authorization"), _client(request)
    caller = auth.check_cached(header, "read", client)
    if caller is None:
        caller = await run_in_threadpool(auth.check, header, "read", client)
    return caller


Body = TypeVar("Body", bound=BaseModel)


def _parse(model: type[Body], body: bytes) -> Body:
    """Parse and validate in one pydantic-core pass; errors look like FastAPI's own."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


_READ_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": GetOnlineFeaturesRequest.model_json_schema()}},
    }
}


async def read_online_features(request: Request) -> Response:
    """Authorize, parse, read and audit one ``/get-online-features`` request."""
    caller = await _reader(request)
    body = _parse(GetOnlineFeaturesRequest, await request.body())
    service: FeatureService = request.app.state.service
    auth: Authenticator = request.app.state.auth
    client = _client(request)

    def check_views(views: list[str], pii: list[tuple[str, str]]) -> None:
        auth.require(caller, "read", [f"feature_view/{view}" for view in views], client)
        auth.require_fields(caller, pii, client)

    payload, views = await service.serve_online_features(
        body, request.state.request_id, check_views=check_views
    )
    for view in views:
        auth.audit(caller.name, "read", f"feature_view/{view}", True, client)
    return Response(payload, media_type="application/json")


async def _fast_online_features(scope: Scope, receive: Receive, send: Send) -> None:
    """The hot route served straight from the middleware, skipping the framework's layers.

    Same handler and same error mapping as the declared route (which documents it); only
    routing, dependency solving and the exception middlewares are bypassed.
    """
    request = Request(scope, receive)
    try:
        response = await read_online_features(request)
    except Exception as exc:
        response = error_response(request, exc)
    await response(scope, receive, send)


class BoundAndMeasure:
    """Pure ASGI middleware: request id, 413 cap, latency/status metrics, and the hot route.

    ``POST /get-online-features`` is answered here (see :func:`_fast_online_features`).

    Written against ASGI directly rather than ``@app.middleware("http")``, whose per-request
    task and body re-streaming cost more than the feature lookup itself.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = f"{random.getrandbits(64):016x}"  # a correlation id, not a secret
        scope.setdefault("state", {})["request_id"] = rid
        rid_header = (b"x-request-id", rid.encode())
        if declared_too_large(scope, self.max_body):
            body = json.dumps(
                {
                    "error": "too_large",
                    "request_id": rid,
                    "detail": f"body exceeds {self.max_body} bytes",
                }
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        rid_header,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), rid_header]
            await send(message)

        receive = capped(receive, self.max_body)  # chunked bodies count too
        try:
            if scope["path"] == "/get-online-features" and scope["method"] == "POST":
                await _fast_online_features(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            path = scope["path"]
            route = path if path in ROUTES else "other"
            metrics = scope["app"].state.metrics
            metrics.observe_request(route, status, time.perf_counter() - start)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the feature server for ``settings`` (default: the process settings)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if line := unapplied_note(settings):  # the server runs the applied code, and says so
            log.warning("%s", line)
        store = Store(settings)
        app.state.metrics = make_metrics()
        app.state.registry_url = settings.effective_registry_url
        app.state.service = FeatureService(store, app.state.metrics)
        app.state.auth = Authenticator(settings)
        # Everything loaded so far (Feast, pandas, the registry) lives as long as the process:
        # keep it out of the collector's full passes, which would otherwise stall requests.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await app.state.service.aclose()
            app.state.auth.close()
            store.close()

    app = FastAPI(title="Skewless feature server", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)

    app.add_middleware(BoundAndMeasure, max_body=settings.serve_max_body_bytes)
    app.add_middleware(  # outermost: ahead of the hot route, which BoundAndMeasure answers
        RateLimit,
        per_token=settings.serve_rate_per_token,
        per_address=settings.serve_rate_per_address,
        body=rate_limited_body,
    )
    app.add_middleware(FeastSurface)  # outermost: /feast/<route> is <route>, Feast's errors

    @app.post(
        "/get-online-features",
        response_model=GetOnlineFeaturesResponse,
        responses=_ERRORS,
        openapi_extra=_READ_BODY,
    )
    async def get_online_features(request: Request) -> Response:
        """Online features for a feature service or feature refs (Feast's request shape)."""
        return await read_online_features(request)

    @app.post(
        "/push",
        response_model=PushResponse,
        responses=_ERRORS,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": PushRequest.model_json_schema()}},
            }
        },
    )
    async def push(request: Request) -> PushResponse:
        """Validate rows against the source's contract and write them (all or nothing).

        The token is checked before the body is read: an unauthenticated caller gets its 401
        without the server holding its body.
        """
        caller = await run_in_threadpool(_writer, request, request.headers.get("authorization"))
        body = _parse(PushRequest, await request.body())
        return await run_in_threadpool(_push, request, body, caller)

    def _push(request: Request, body: PushRequest, caller: Caller) -> PushResponse:
        service = _service(request)
        auth: Authenticator = request.app.state.auth
        # A Feast push source's name stands for the batch source it wraps.
        source = service.store.repository.source_named(body.push_source_name)
        body = body.model_copy(update={"push_source_name": source})
        target = f"offline/{source}"
        auth.require(caller, "write", [target], _client(request))
        response = service.push(body)[0]
        auth.audit(caller.name, "write", target, True, _client(request))
        return response

    @app.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
    def health(service: Annotated[FeatureService, Depends(_service)]) -> JSONResponse:
        """200 when the online store answers and holds what was written to it; 503 otherwise.

        ``degraded``: it answers but lost the materialized values (a Redis restarted empty).
        """
        status, reason = service.health()
        body = HealthResponse(status=status, online_store=settings.online_store, reason=reason)
        return JSONResponse(body.model_dump(), status_code=200 if status == "ok" else 503)

    @app.post("/write-to-online-store", include_in_schema=False)
    @app.post("/materialize", include_in_schema=False)
    @app.post("/materialize-incremental", include_in_schema=False)
    def not_served(request: Request) -> None:
        """Feast's routes that would write online values past the contracts: a 404 that says so."""
        raise NotServedError(request.url.path)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        return Response(
            generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    return app
