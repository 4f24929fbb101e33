"""Prometheus ``/metrics`` of the lineage service, on a private registry per app.

- ``lineage_requests_total{route,status}`` and ``lineage_request_seconds{route}``: every answer,
  by route template (``/api/v1/namespaces/{namespace}``, never the raw path), intake included.
- ``lineage_intake_events_total{status}``: intake requests by answer (201 stored or duplicate,
  401/403/413/422 refused, 503 not stored).
- ``lineage_intake_batches_total``: batches the intake writer committed (group commit).
- ``lineage_audit_appends_total``: audit entries appended, one per audited request.
- ``lineage_database_errors_total``: answers that were a 503 because the database did not answer.

A pure ASGI layer outside everything else (the intake endpoint and the rate limiter included),
so no request escapes it; ``/metrics`` and ``/health`` are neither audited nor rate limited.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lineage.api.middleware import UNAUDITED_PATHS

INTAKE_PATH = "/api/v1/lineage"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_UNMEASURED = frozenset({"/metrics"})


class _Batches(Collector):
    """Reads the intake writer's batch count when scraped (it lives in the writer)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Iterator[CounterMetricFamily]:
        intake = getattr(self.app.state, "intake", None)
        family = CounterMetricFamily(
            "lineage_intake_batches", "Intake batches committed by the writer"
        )
        family.add_metric([], float(getattr(intake, "batches", 0)))
        yield family


class LineageMetrics:
    def __init__(self, app: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "lineage_requests",
            "Answers by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "lineage_request_seconds",
            "Answer latency by route",
            ["route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.intake = Counter(
            "lineage_intake_events",
            "Intake requests by answer status",
            ["status"],
            registry=self.registry,
        )
        self.audit_appends = Counter(
            "lineage_audit_appends", "Audit entries appended", registry=self.registry
        )
        self.database_errors = Counter(
            "lineage_database_errors",
            "Answers refused because the database did not answer",
            registry=self.registry,
        )
        self.registry.register(_Batches(app))

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        path = scope["path"]
        if path == INTAKE_PATH and scope["method"] == "POST":
            route = INTAKE_PATH
            self.intake.labels(str(status)).inc()
        else:
            found = scope.get("route")
            route = getattr(found, "path", None) or ("unrouted" if status == 404 else "other")
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if path not in UNAUDITED_PATHS and status != 429:
            self.audit_appends.inc()
        if status == 503:
            self.database_errors.inc()


class Measure:
    """Pure ASGI middleware: count and time every answer (see the module docstring)."""

    def __init__(self, app: ASGIApp, metrics: LineageMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in _UNMEASURED:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.metrics.observe(scope, status, time.perf_counter() - start)
