"""The feature server app: ``create_app(settings)`` with a lifespan, middleware and routes.

Routes parse, authorize, call :class:`services.serving.service.FeatureService` and
return a response model. Run with ``skewless serve`` (uvicorn, no worker recycling).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.serving.auth import Authenticator, Caller
from services.serving.errors import install_error_handlers
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


class BoundAndMeasure:
    """Pure ASGI middleware: request id, body-size cap (413) and the latency/status metrics.

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
        rid = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        rid_header = (b"x-request-id", rid.encode())
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
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

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope["path"]
            route = path if path in ROUTES else "other"
            metrics = scope["app"].state.metrics
            metrics.latency.labels(route).observe(time.perf_counter() - start)
            metrics.requests.labels(route, str(status)).inc()


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

    app.add_middleware(BoundAndMeasure, max_body=settings.serve_max_body_bytes)

    @app.post("/get-online-features", response_model=GetOnlineFeaturesResponse, responses=_ERRORS)
    def get_online_features(
        request: Request,
        body: GetOnlineFeaturesRequest,
        service: Annotated[FeatureService, Depends(_service)],
        caller: Annotated[Caller, Depends(_reader)],
    ) -> Response:
        """Online features for a feature service or feature refs (Feast's request shape)."""
        response = service.get_online_features(body)
        auth: Authenticator = request.app.state.auth
        for view in service.views_read(body):
            auth.audit(caller.name, "read", f"feature_view/{view}", True, _client(request))
        # Serialized by pydantic-core directly: the model is already validated, skip a second pass.
        return Response(response.model_dump_json(), media_type="application/json")

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
