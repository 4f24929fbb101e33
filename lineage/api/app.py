"""The lineage service app factory: engine lifecycle, middleware, error mapping, routes."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp

from lineage import token_admin
from lineage.api.console import mount_console
from lineage.api.console import router as console_router
from lineage.api.errors import install_error_handlers, rate_limited_body
from lineage.api.event_schema import add_event_components
from lineage.api.intake_path import IntakeEndpoint
from lineage.api.marquez import EncodedNames
from lineage.api.marquez import router as marquez_router
from lineage.api.metrics import LineageMetrics, Measure
from lineage.api.middleware import AuditMiddleware, BodyLimitMiddleware
from lineage.api.routes import router
from lineage.db.session import make_engine, make_sessionmaker, session_scope
from lineage.intake import IntakeQueue
from lineage.intake_process import IntakeProcess
from lineage.ratelimit import RateLimit
from lineage.settings import LineageSettings, get_settings

BOOTSTRAP_PRINCIPAL = "bootstrap-admin"
log = logging.getLogger("lineage.api")


def _start_intake(
    settings: LineageSettings, maker: sessionmaker[Session]
) -> IntakeProcess | IntakeQueue:
    """The writer of ``POST /api/v1/lineage``: a child process, or a thread of this one."""
    if settings.intake_writer == "process":
        linger = settings.intake_linger_ms / 1000
        return IntakeProcess(settings.database_url, linger=linger, key=settings.audit_key_bytes)
    return IntakeQueue(maker, key=settings.audit_key_bytes)


def _register_bootstrap(settings: LineageSettings, maker: sessionmaker[Session]) -> None:
    """Issue ``LINEAGE_BOOTSTRAP_ADMIN_TOKEN`` unless it was issued before; one line if revoked."""
    if not settings.bootstrap_admin_token:
        return
    with session_scope(maker) as session:
        live = token_admin.ensure_token(
            session, BOOTSTRAP_PRINCIPAL, "admin", settings.bootstrap_admin_token
        )
    if not live:
        log.warning(
            "LINEAGE_BOOTSTRAP_ADMIN_TOKEN was revoked: it stays revoked and was not re-created "
            "(use another admin token, or set a new bootstrap token)"
        )


class LineageAPI(FastAPI):
    """The FastAPI app, whose OpenAPI document also holds the OpenLineage event schemas."""

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document, built once, with ``event_schema.COMPONENTS`` added."""
        if self.openapi_schema is None:
            self.openapi_schema = add_event_components(super().openapi())
        return self.openapi_schema


def create_app(settings: LineageSettings | None = None) -> FastAPI:
    """Build the lineage service.

    The engine is created on startup and disposed on shutdown (nothing is built at import time).
    A configured bootstrap admin token is registered on startup, unless it was revoked.

    Args:
        settings: The settings; defaults to ``get_settings()``.

    Returns:
        The FastAPI application.

    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Whatever started is stopped again, also when a later step of start-up fails: an
        # intake writer left running keeps the process alive after uvicorn gives up.
        async with AsyncExitStack() as started:
            engine = make_engine(settings.database_url)
            started.callback(engine.dispose)
            app.state.sessionmaker = make_sessionmaker(engine)
            app.state.intake = _start_intake(settings, app.state.sessionmaker)
            started.push_async_callback(app.state.intake.aclose)
            _register_bootstrap(settings, app.state.sessionmaker)
            # What is loaded by now (FastAPI, SQLAlchemy, pydantic, the routes' schemas) lives
            # as long as the process: out of the collector's full passes, each of which stalled
            # a request by up to ~55 ms (a depth-10 graph's p95 went from 29.9 to 26.0 ms). No
            # collection first: it takes ~130 ms, and start-up leaves little garbage to keep.
            gc.freeze()
            started.callback(gc.unfreeze)
            yield

    app = LineageAPI(title="Skewless lineage", version="1", lifespan=lifespan)
    app.state.settings = settings

    def factory() -> sessionmaker[Session]:
        maker: sessionmaker[Session] = app.state.sessionmaker
        return maker

    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(AuditMiddleware, factory=factory)
    app.add_middleware(EncodedNames)  # routes /namespaces/... on names as the client encoded them
    app.include_router(router)
    app.include_router(marquez_router)
    app.include_router(console_router)
    mount_console(app)
    # Intake is the hot path: POST /api/v1/lineage is answered ahead of the whole middleware
    # stack (FastAPI's own error, telemetry and body-limit layers included), which it does not
    # need: it caps, audits and maps its errors itself. Everything else goes through the stack.
    build_stack = app.build_middleware_stack

    metrics = LineageMetrics(app)
    app.state.metrics = metrics

    def build_with_intake() -> ASGIApp:
        limited = RateLimit(
            IntakeEndpoint(build_stack(), limit=settings.max_body_bytes, factory=factory),
            per_token=settings.rate_per_token,
            per_address=settings.rate_per_address,
            body=rate_limited_body,
        )
        return Measure(limited, metrics)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        """Prometheus metrics (see ``lineage.api.metrics``); not audited, not rate limited."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.build_middleware_stack = build_with_intake  # type: ignore[method-assign]
    return app
