"""Bearer-token authentication for the feature server.

Tokens are the lineage plane's (``lineage.access``: hashed, with roles and
namespace grants), optionally plus one static token from ``SKEWLESS_SERVE_TOKEN``.
Reads need the ``consumer`` role (or admin), pushes the ``producer`` role.

The event loop never waits on the token database: whether tokens exist is refreshed by
the background thread that also ships the read audit to its writer process
(:mod:`services.serving.audit_sink`), and a token's principal is
remembered for ``PRINCIPAL_TTL_S`` (:meth:`Authenticator.check_cached`); only a token not
seen recently is looked up, in a worker thread (:meth:`Authenticator.check`).
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from services.serving.audit_sink import FORWARD_S, AuditSink, Entry
from services.settings import Settings

Need = Literal["read", "write"]
TOKENS_REFRESH_S = 2.0
PRINCIPAL_TTL_S = 1.0
_ALLOWED: dict[str, frozenset[str]] = {
    "read": frozenset({"admin", "consumer", "producer"}),
    "write": frozenset({"admin", "producer"}),
}
_UNKNOWN = object()  # a token whose principal must be looked up


@dataclass(frozen=True)
class Caller:
    name: str
    role: str


class AuthError(Exception):
    """401 (no or bad token) or 403 (token lacks the right)."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        super().__init__(reason)


class Authenticator:
    """Checks bearer tokens against the static token and the lineage token store."""

    def __init__(self, settings: Settings) -> None:
        self.static = settings.serve_token
        self._verifier = None
        self._sink: AuditSink | None = None
        self._has_tokens = False
        self._principals: dict[str, tuple[float, Any]] = {}
        self._pending: list[Entry] = []
        self._lock = threading.Lock()
        try:
            from lineage.access import TokenVerifier
        except ImportError:  # data-plane-only install: static token only, no audit log
            return
        self._verifier = TokenVerifier(settings.effective_lineage_database_url)
        self._has_tokens = self._verifier.has_tokens()
        self._sink = AuditSink(settings.effective_lineage_database_url)
        self._stop = threading.Event()
        self._forwarder = threading.Thread(target=self._forward_loop, name="audit", daemon=True)
        self._forwarder.start()

    def _forward_loop(self) -> None:
        assert self._verifier is not None
        refreshed = time.monotonic()
        while not self._stop.wait(FORWARD_S):
            self._forward()
            if time.monotonic() - refreshed >= TOKENS_REFRESH_S:
                self._has_tokens = self._verifier.has_tokens()
                refreshed = time.monotonic()

    def _forward(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch and self._sink is not None:
            self._sink.send(batch)

    def audit(self, caller: str, action: str, obj: str, allowed: bool, source: str | None) -> None:
        """Append to the lineage plane's hash-chained audit log (buffered, written in batches)."""
        if self._sink is None:
            return
        with self._lock:
            self._pending.append((caller, action, obj, allowed, source, _now_iso()))

    @property
    def enabled(self) -> bool:
        return bool(self.static) or self._has_tokens

    def check(self, header: str | None, need: Need, source: str | None = None) -> Caller:
        """The caller, or AuthError; may query the token store (call it from a thread)."""
        caller = self._decide(header, need, source, lookup=True)
        assert caller is not None  # a lookup always decides
        return caller

    def check_cached(
        self, header: str | None, need: Need, source: str | None = None
    ) -> Caller | None:
        """Like :meth:`check` without any I/O: None when the token must be looked up."""
        return self._decide(header, need, source, lookup=False)

    def _decide(
        self, header: str | None, need: Need, source: str | None, lookup: bool
    ) -> Caller | None:
        if not self.enabled:
            return Caller("anonymous", "admin")
        if not header or not header.lower().startswith("bearer "):
            self.audit("-", need, "feature_server", False, source)
            raise AuthError(401, "missing bearer token")
        token = header[7:].strip()
        if self.static and hmac.compare_digest(token.encode(), self.static.encode()):
            return Caller("static", "admin")
        principal = self._principal(token, lookup)
        if principal is _UNKNOWN:
            return None
        if principal is not None:
            if principal.role not in _ALLOWED[need]:
                self.audit(principal.name, need, "feature_server", False, source)
                raise AuthError(403, f"role {principal.role!r} may not {need}")
            return Caller(principal.name, principal.role)
        self.audit("-", need, "feature_server", False, source)
        raise AuthError(401, "invalid token")

    def _principal(self, token: str, lookup: bool) -> Any:
        if self._verifier is None:
            return None
        now = time.monotonic()
        hit = self._principals.get(token)
        if hit is not None and now - hit[0] < PRINCIPAL_TTL_S:
            return hit[1]
        if not lookup:
            return _UNKNOWN
        principal = self._verifier.verify(token)
        if len(self._principals) > 10_000:
            self._principals.clear()
        self._principals[token] = (now, principal)
        return principal

    def close(self) -> None:
        """Stop forwarding, then let the writer process write everything and exit."""
        if self._sink is not None:
            self._stop.set()
            self._forwarder.join(timeout=30)
            self._forward()
            self._sink.close()
        if self._verifier is not None:
            self._verifier.close()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()
