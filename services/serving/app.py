"""The feature server app: ``create_app(settings)`` with a lifespan, middleware and routes.

Routes parse, authorize, call :class:`services.serving.service.FeatureService` and
return a response model. Run with ``skewless serve`` (uvicorn, no worker recycling).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.serving.auth import Authenticator, Caller
from services.serving.errors import error_body, install_error_handlers
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


def _reader(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    auth: Authenticator = request.app.state.auth
    return auth.check(authorization, "read", _client(request))


def _writer(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    auth: Authenticator = request.app.state.auth
    return auth.check(authorization, "write", _client(request))


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the feature server for ``settings`` (default: the process settings)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings)
        app.state.metrics = make_metrics()
        app.state.service = FeatureService(store, app.state.metrics)
        app.state.auth = Authenticator(settings)
        try:
            yield
        finally:
            app.state.service.close()
            app.state.auth.close()
            store.close()

    app = FastAPI(title="Skewless feature server", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)

    @app.middleware("http")
    async def bound_and_measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.request_id = uuid.uuid4().hex[:16]
        length = request.headers.get("content-length")
        if length is not None and (
            not length.isdigit() or int(length) > settings.serve_max_body_bytes
        ):
            return JSONResponse(
                error_body(
                    request, "too_large", f"body exceeds {settings.serve_max_body_bytes} bytes"
                ),
                status_code=413,
            )
        start = time.perf_counter()
        response = await call_next(request)
        route = request.url.path if request.url.path in ROUTES else "other"
        metrics = request.app.state.metrics
        metrics.latency.labels(route).observe(time.perf_counter() - start)
        metrics.requests.labels(route, str(response.status_code)).inc()
        response.headers["x-request-id"] = request.state.request_id
        return response

    @app.post("/get-online-features", response_model=GetOnlineFeaturesResponse, responses=_ERRORS)
    def get_online_features(
        request: Request,
        body: GetOnlineFeaturesRequest,
        service: Annotated[FeatureService, Depends(_service)],
        caller: Annotated[Caller, Depends(_reader)],
    ) -> GetOnlineFeaturesResponse:
        """Online features for a feature service or feature refs (Feast's request shape)."""
        response = service.get_online_features(body)
        auth: Authenticator = request.app.state.auth
        for view in service.views_read(body):
            auth.audit(caller.name, "read", f"feature_view/{view}", True, _client(request))
        return response

    @app.post("/push", response_model=PushResponse, responses=_ERRORS)
    def push(
        request: Request,
        body: PushRequest,
        service: Annotated[FeatureService, Depends(_service)],
        caller: Annotated[Caller, Depends(_writer)],
    ) -> PushResponse:
        """Validate rows against the source's contract and write them (all or nothing)."""
        response = service.push(body)[0]
        auth: Authenticator = request.app.state.auth
        auth.audit(caller.name, "write", f"offline/{body.push_source_name}", True, _client(request))
        return response

    @app.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
    def health(service: Annotated[FeatureService, Depends(_service)]) -> JSONResponse:
        """200 when the online store answers, 503 otherwise."""
        ok = service.reader.ping()
        body = HealthResponse(
            status="ok" if ok else "unavailable", online_store=settings.online_store
        )
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        return Response(
            generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    return app
