"""Bearer-token authentication and authorization for the feature server.

Tokens are the lineage plane's (``lineage.access``: hashed, with roles and
namespace grants), optionally plus one static token from ``SKEWLESS_SERVE_TOKEN``.
Reads need the ``consumer`` or ``producer`` role (or admin) and a grant on every feature view
read; pushes need the ``producer`` role and a grant on the source. Every Skewless object lives
in the lineage namespace ``lineage.identity.NAMESPACE``, the one its lineage events use
(:func:`namespace_of`). A grant is a token's ``--namespace`` value:

    skewless                              every view and source of the namespace
    skewless/feature_view/<view>          one feature view (reads)
    skewless/offline/<source>             one source (pushes)
    pii:<classification>  (or ``pii:*``)  fields tagged PII with that classification

A PII field is served only to a caller holding its classification's grant (admins excepted),
whatever its view grants; each PII field read, allowed or refused, is an audit entry.

It fails closed. No token configured at all (no static token, no live lineage token) means
open access only in the ``local`` profile (``SKEWLESS_PROFILE``, the unsafe-defaults rule);
in any other profile every request needs a valid token. When the token database does not
answer, a token not already known is refused with 503, never waved through or taken as invalid.

Every audit entry is in the write-ahead log before the request is answered
(:mod:`services.serving.audit_sink`); a request whose entry cannot be written is refused with
503. The event loop never waits on the token database: whether tokens exist is refreshed by
a background thread (which also restarts the audit writer if it died), and a token's principal is
remembered for ``PRINCIPAL_TTL_S`` (:meth:`Authenticator.check_cached`); only a token not
seen recently is looked up, in a worker thread (:meth:`Authenticator.check`).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from lineage.access import ALL_NAMESPACES, Principal, TokenVerifier, authorize
from lineage.errors import StoreUnavailable
from lineage.identity import NAMESPACE
from services.serving.audit_sink import AuditSink
from services.settings import LOCAL_PROFILE, Settings

Need = Literal["read", "write"]
TOKENS_REFRESH_S = 2.0
WATCH_S = 0.1
PRINCIPAL_TTL_S = 1.0
_ALLOWED: dict[str, frozenset[str]] = {
    "read": frozenset({"admin", "consumer", "producer"}),
    "write": frozenset({"admin", "producer"}),
}
_UNKNOWN = object()  # a token whose principal must be looked up
_log = logging.getLogger("skewless.serving.auth")


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: a lineage principal (role and namespace grants)."""

    principal: Principal

    @property
    def name(self) -> str:
        return self.principal.name

    def may(self, need: Need, obj: str) -> bool:
        """Whether the caller's role allows ``need`` and a grant covers ``obj`` or its namespace."""
        principal = self.principal
        if principal.role not in _ALLOWED[need]:
            return False
        if authorize(principal, need, namespace_of(obj)):
            return True
        return principal.role != "auditor" and object_grant(obj) in principal.namespaces

    def may_classification(self, classification: str) -> bool:
        """Whether the caller may read fields tagged PII with ``classification``."""
        grants = self.principal.namespaces
        return self.principal.role == "admin" or bool(
            {PII_ALL, f"{PII_PREFIX}{classification}"} & grants
        )


def _admin(name: str) -> Caller:
    return Caller(Principal(name, "admin", frozenset({ALL_NAMESPACES})))


ANONYMOUS = _admin("anonymous")  # only when no token is configured, in the local profile
STATIC = _admin("static")


PII_PREFIX = "pii:"
PII_ALL = "pii:*"


def object_grant(obj: str) -> str:
    """The grant naming one object alone, e.g. ``skewless/feature_view/<view>``."""
    return f"{NAMESPACE}/{obj}"


def namespace_of(obj: str) -> str:
    """The lineage namespace of a served object (``feature_view/<v>``, ``offline/<source>``)."""
    del obj  # every Skewless object is in the one namespace its lineage events use
    return NAMESPACE


class AuthError(Exception):
    """401 (no or bad token), 403 (token lacks the right) or 503 (token store unavailable)."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        super().__init__(reason)


class Authenticator:
    """Checks bearer tokens against the static token and the lineage token store."""

    def __init__(self, settings: Settings) -> None:
        self.static = settings.serve_token
        self._open_if_no_tokens = settings.profile == LOCAL_PROFILE and not self.static
        self._callers: dict[str, tuple[float, Caller | None]] = {}
        self._verifier = TokenVerifier(settings.effective_lineage_database_url)
        self._has_tokens = self._tokens_exist()
        if self._has_tokens is False and self._open_if_no_tokens:
            _log.warning("no tokens configured: open access (local profile only)")
        self._sink = AuditSink(
            settings.effective_lineage_database_url,
            settings.data_dir / "audit-wal",
            key=settings.lineage_audit_key.get_secret_value() or None,
            commit_s=settings.serve_audit_commit_s,
        )
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch_loop, name="audit", daemon=True)
        self._watcher.start()

    def _tokens_exist(self) -> bool | None:
        """Whether live lineage tokens exist; None when the token store does not answer."""
        try:
            return self._verifier.has_tokens()
        except StoreUnavailable:
            return None

    def _watch_loop(self) -> None:
        refreshed = time.monotonic()
        while not self._stop.wait(WATCH_S):
            self._sink.ensure_running()
            if time.monotonic() - refreshed >= TOKENS_REFRESH_S:
                self._has_tokens = self._tokens_exist()
                refreshed = time.monotonic()

    def audit(self, caller: str, action: str, obj: str, allowed: bool, source: str | None) -> None:
        """Queue an entry of the hash-chained audit log durably (the writer appends it).

        Raises:
            AuthError: 503, the entry could not be queued (nothing is served unaudited).

        """
        try:
            self._sink.append((caller, action, obj, allowed, source, _now_iso()))
        except OSError as exc:
            _log.error("read audit log unwritable: %s", exc)
            raise AuthError(503, "read audit unavailable") from None

    def check(self, header: str | None, need: Need, source: str | None = None) -> Caller:
        """The caller, or AuthError; may query the token store (call it from a thread)."""
        caller = self._decide(header, need, source, lookup=True)
        if caller is None:  # a lookup always decides
            raise RuntimeError("the token check decided nothing after a lookup")
        return caller

    def check_cached(
        self, header: str | None, need: Need, source: str | None = None
    ) -> Caller | None:
        """Like :meth:`check` without any I/O: None when the token must be looked up."""
        return self._decide(header, need, source, lookup=False)

    def require(
        self, caller: Caller, need: Need, objects: Iterable[str], source: str | None
    ) -> None:
        """Raise AuthError(403) unless ``caller`` may ``need`` every object (audited if not).

        Args:
            caller: The authenticated caller.
            need: ``read`` or ``write``.
            objects: What the request touches, e.g. ``feature_view/<view name>``.
            source: The client address.

        """
        for obj in objects:
            if not caller.may(need, obj):
                self.audit(caller.name, need, obj, False, source)
                raise AuthError(
                    403,
                    f"{caller.name} may not {need} {obj} (needs a grant on {namespace_of(obj)!r} "
                    f"or {object_grant(obj)!r})",
                )

    def require_fields(
        self, caller: Caller, fields: Iterable[tuple[str, str]], source: str | None
    ) -> None:
        """Raise AuthError(403) unless ``caller`` may read every PII field; audit each one.

        Args:
            caller: The authenticated caller.
            fields: ``(view:feature, classification)`` of each PII field the answer holds.
            source: The client address.

        """
        for ref, classification in fields:
            allowed = caller.may_classification(classification)
            self.audit(caller.name, "read", f"field/{ref}", allowed, source)
            if not allowed:
                raise AuthError(
                    403,
                    f"{caller.name} may not read PII field {ref} (classification "
                    f"{classification!r}; needs a grant {PII_PREFIX}{classification})",
                )

    def _decide(
        self, header: str | None, need: Need, source: str | None, lookup: bool
    ) -> Caller | None:
        bearer = header is not None and header.lower().startswith("bearer ")
        token = header[7:].strip() if header is not None and bearer else None
        if self._open_if_no_tokens and self._has_tokens is not True:
            if self._has_tokens is False:
                return ANONYMOUS
            if token is None:  # open access may or may not apply: the store cannot say
                raise AuthError(503, "token store unavailable")
        if token is None:
            self.audit("-", need, "feature_server", False, source)
            raise AuthError(401, "missing bearer token")
        if self.static and hmac.compare_digest(token.encode(), self.static.encode()):
            return STATIC
        caller = self._caller(token, lookup)
        if caller is _UNKNOWN:
            return None
        if not isinstance(caller, Caller):
            self.audit("-", need, "feature_server", False, source)
            raise AuthError(401, "invalid token")
        role = caller.principal.role
        if role not in _ALLOWED[need]:
            self.audit(caller.name, need, "feature_server", False, source)
            raise AuthError(403, f"role {role!r} may not {need}")
        return caller

    def _caller(self, token: str, lookup: bool) -> Caller | object | None:
        """The token's caller (None: not a live token), or ``_UNKNOWN`` without ``lookup``."""
        now = time.monotonic()
        hit = self._callers.get(token)
        if hit is not None and now - hit[0] < PRINCIPAL_TTL_S:
            return hit[1]
        if not lookup:
            return _UNKNOWN
        try:
            principal = self._verifier.verify(token)
        except StoreUnavailable:
            raise AuthError(503, "token store unavailable") from None
        if len(self._callers) > 10_000:
            self._callers.clear()
        caller = None if principal is None else Caller(principal)
        self._callers[token] = (now, caller)
        return caller

    def close(self) -> None:
        """Stop watching, then let the writer process commit everything and exit."""
        self._stop.set()
        self._watcher.join(timeout=30)
        self._sink.close()
        self._verifier.close()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()
