"""Rate limits both servers apply, per bearer token and per client address: token buckets.

Each request takes one token from the bucket of its ``Authorization`` header (requests without
one share the ``anonymous`` bucket) and one from the bucket of its client address; a request
finding either empty is answered 429 with ``Retry-After`` before the application sees it (so a
flood of bad tokens costs no token-store lookups). A bucket holds ``burst_s`` seconds of its rate
and refills continuously. Probes (``/health``, ``/metrics``) are not limited. A rate of 0 turns
that limit off. Behind a proxy every client shares the proxy's address: raise or disable the
per-address limit there.

Written here rather than taken from a library: it is the first thing on the hot path of every
request, does no I/O and needs no storage beyond two dictionaries (a process-local limit: with
N workers the effective rate is N times the setting). The feature server
(``services.serving.app``) and the lineage service (``lineage.api``) both use this module, each
rendering the 429 in its own error shape.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

EXEMPT = frozenset({"/health", "/metrics"})
MAX_KEYS = 100_000


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens a second, at most ``rate * burst_s`` held."""

    def __init__(self, rate: float, burst_s: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate * burst_s)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str, now: float) -> float:
        """Take one token for ``key``; 0.0 when granted, else the seconds until one is there."""
        tokens, at = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_KEYS:
                self._prune(now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled (they are as if new); all of them if none has."""
        full = [k for k, (t, at) in self._buckets.items() if t + (now - at) * self.rate >= 1.0]
        for key in full if len(full) > MAX_KEYS // 10 else list(self._buckets):
            del self._buckets[key]


class RateLimit:
    """Pure ASGI middleware: 429 + ``Retry-After`` when a token's or address's bucket is empty.

    Args:
        app: The application behind it.
        per_token: Requests a second per ``Authorization`` value (0: no limit).
        per_address: Requests a second per client address (0: no limit).
        body: The 429 answer's JSON body in the server's error shape, given the wait in s.
        burst_s: How many seconds of its rate a bucket holds.

    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_token: float,
        per_address: float,
        body: Callable[[float], bytes],
        burst_s: float = 2.0,
    ) -> None:
        self.app = app
        self._body = body
        self._tokens = TokenBuckets(per_token, burst_s) if per_token > 0 else None
        self._addresses = TokenBuckets(per_address, burst_s) if per_address > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        wait = self._wait(scope)
        if wait <= 0.0:
            await self.app(scope, receive, send)
            return
        body = self._body(wait)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(max(1, math.ceil(wait))).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _wait(self, scope: Scope) -> float:
        now = time.monotonic()
        wait = 0.0
        if self._tokens is not None:
            token = "anonymous"
            for name, value in scope.get("headers") or ():
                if name == b"authorization":
                    token = value.decode("latin-1")
                    break
            wait = self._tokens.take(token, now)
        if self._addresses is not None and wait <= 0.0:
            client = scope.get("client")
            wait = self._addresses.take(client[0] if client else "unknown", now)
        return wait
