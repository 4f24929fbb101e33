"""Bearer-token authentication for the feature server.

Tokens are the lineage plane's (``lineage.access``: hashed, with roles and
namespace grants), optionally plus one static token from ``SKEWLESS_SERVE_TOKEN``.
Reads need the ``consumer`` role (or admin), pushes the ``producer`` role.
"""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass
from typing import Literal

from services.settings import Settings

Need = Literal["read", "write"]
AUDIT_FLUSH_S = 2.0


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
        self._auditor = None
        try:
            from lineage.access import ReadAuditor, TokenVerifier
        except ImportError:  # data-plane-only install: static token only, no audit log
            return
        self._verifier = TokenVerifier(settings.effective_lineage_database_url)
        self._auditor = ReadAuditor(settings.effective_lineage_database_url)
        self._auditor.prepare()  # migrations at startup, never inside a request
        self._stop = threading.Event()
        # Flushing appends to the hash chain in one transaction; do it off the request path.
        self._flusher = threading.Thread(target=self._flush_loop, name="audit-flush", daemon=True)
        self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._stop.wait(AUDIT_FLUSH_S):
            self.flush_audit()

    def audit(self, caller: str, action: str, obj: str, allowed: bool, source: str | None) -> None:
        """Append to the lineage plane's hash-chained audit log (buffered, flushed in batches)."""
        if self._auditor is None:
            return
        self._auditor.record(caller, action, obj, allowed, source)

    def flush_audit(self) -> None:
        if self._auditor is not None and self._auditor.pending:
            self._auditor.flush()

    @property
    def enabled(self) -> bool:
        return bool(self.static) or (self._verifier is not None and self._verifier.has_tokens())

    def check(self, header: str | None, need: Need, source: str | None = None) -> Caller:
        if not self.enabled:
            return Caller("anonymous", "admin")
        if not header or not header.lower().startswith("bearer "):
            self.audit("-", need, "feature_server", False, source)
            raise AuthError(401, "missing bearer token")
        token = header[7:].strip()
        if self.static and hmac.compare_digest(token.encode(), self.static.encode()):
            return Caller("static", "admin")
        if self._verifier is not None:
            principal = self._verifier.verify(token)
            if principal is not None:
                allowed = {
                    "read": {"admin", "consumer", "producer"},
                    "write": {"admin", "producer"},
                }
                if principal.role not in allowed[need]:
                    self.audit(principal.name, need, "feature_server", False, source)
                    raise AuthError(403, f"role {principal.role!r} may not {need}")
                return Caller(principal.name, principal.role)
        self.audit("-", need, "feature_server", False, source)
        raise AuthError(401, "invalid token")

    def close(self) -> None:
        if self._auditor is not None:
            self._stop.set()
            self._flusher.join(timeout=30)
            self._auditor.close()
        if self._verifier is not None:
            self._verifier.close()
