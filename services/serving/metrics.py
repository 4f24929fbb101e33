"""Prometheus metrics of the feature server, on a private registry per app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
AGE_BUCKETS = (60, 600, 3600, 6 * 3600, 86400, 2 * 86400, 7 * 86400, 30 * 86400)


@dataclass
class Metrics:
    registry: CollectorRegistry
    latency: Histogram
    requests: Counter
    store_errors: Counter
    value_age: Histogram
    _children: dict[tuple[str, int], tuple[Any, Any]] = field(default_factory=dict)

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Count a request and its latency (label children resolved once, not per request)."""
        children = self._children.get((route, status))
        if children is None:
            children = (self.latency.labels(route), self.requests.labels(route, str(status)))
            self._children[(route, status)] = children
        children[0].observe(seconds)
        children[1].inc()


def make_metrics() -> Metrics:
    registry = CollectorRegistry()
    return Metrics(
        registry=registry,
        latency=Histogram(
            "skewless_request_seconds",
            "Request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        requests=Counter(
            "skewless_requests",
            "Requests by route and status",
            ["route", "status"],
            registry=registry,
        ),
        store_errors=Counter(
            "skewless_online_store_errors", "Online store failures", registry=registry
        ),
        value_age=Histogram(
            "skewless_served_value_age_seconds",
            "Event-time age of served feature values",
            ["view"],
            buckets=AGE_BUCKETS,
            registry=registry,
        ),
    )
