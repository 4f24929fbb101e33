"""The one authorization model: principals, hashed bearer tokens, roles and namespace grants.

Both the lineage service and the feature server use it. Roles:

- ``admin``: everything, including token management.
- ``producer``: writes (and reads) in granted namespaces.
- ``consumer``: reads granted namespaces.
- ``auditor``: reads every namespace and the audit log; writes nothing.

A token carries the role and the namespace grants it was issued with; a principal is the name its
tokens act under, and issuing it another token changes none of the ones it has. A grant of ``*``
covers every namespace. Tokens are stored only as sha256 digests and are looked up by digest, so
the plain token never touches the database. Issuing, revoking and listing tokens is
``lineage.token_admin``.

For the feature server (which may import only this module, ``emitter`` and ``identity``),
``TokenVerifier`` checks tokens with a short cache and ``ReadAuditor`` batches read-audit entries
into the same hash-chained audit log the lineage service writes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

import psycopg
from alembic.util.exc import CommandError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from lineage.audit import PendingEntry
from lineage.db import access_sql
from lineage.db.models import AuditLog, Token
from lineage.errors import InvalidQuery, StoreUnavailable
from lineage.roles import ROLES, Role

Action = Literal["read", "write", "admin", "audit"]
ALL_NAMESPACES = "*"
_log = logging.getLogger("lineage.access")
# What a database that does not answer raises: SQLAlchemy's errors, and psycopg's own from the
# statements run on psycopg directly (``lineage.db.raw``).
DB_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, psycopg.Error)
_FLUSH_ERRORS: tuple[type[Exception], ...] = (*DB_ERRORS, OSError, CommandError)  # may migrate


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its principal's name, with the role and grants of its token."""

    name: str
    role: Role
    namespaces: frozenset[str]

    def granted(self, namespace: str) -> bool:
        """Return whether ``namespace`` is among this principal's grants."""
        return ALL_NAMESPACES in self.namespaces or namespace in self.namespaces


def hash_token(token: str) -> str:
    """Return the sha256 hex digest under which ``token`` is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_role(role: str) -> Role:
    """``role`` as a ``Role``, or ``InvalidQuery`` naming the roles there are."""
    if role not in ROLES:
        raise InvalidQuery(field="role", reason=f"must be one of {list(ROLES)}")
    return cast(Role, role)


def authenticate(session: Session, token: str) -> Principal | None:
    """Return the principal owning a live ``token``, or None for an unknown or revoked one."""
    return authenticate_many(session, [token]).get(token) if token else None


def authenticate_many(session: Session, tokens: Iterable[str]) -> dict[str, Principal]:
    """Authenticate several tokens with one query; unknown or revoked tokens are left out."""
    by_hash = token_hashes(tokens)
    return principals_of(by_hash, access_sql.callers(session, by_hash))


def token_hashes(tokens: Iterable[str]) -> dict[str, str]:
    """The stored hash of each (non-empty) token, mapped back to the token."""
    return {hash_token(t): t for t in tokens if t}


def principals_of(
    by_hash: Mapping[str, str], callers: Mapping[str, tuple[str, str, set[str]]]
) -> dict[str, Principal]:
    """The principal of each token whose hash ``callers`` (``access_sql.callers``) found live."""
    return {
        by_hash[digest]: Principal(name=name, role=check_role(role), namespaces=frozenset(grants))
        for digest, (name, role, grants) in callers.items()
        if digest in by_hash
    }


def authorize(principal: Principal, action: Action, namespace: str) -> bool:
    """Decide whether ``principal`` may perform ``action`` on ``namespace``.

    Args:
        principal: The authenticated caller.
        action: ``read``, ``write``, ``admin`` or ``audit``.
        namespace: The namespace of the object (ignored for ``admin`` and ``audit``).

    Returns:
        True if allowed.

    """
    role = principal.role
    if role == "admin":
        return True
    if role == "auditor":
        return action in ("read", "audit")
    if action == "read" and role in ("producer", "consumer"):
        return principal.granted(namespace)
    if action == "write" and role == "producer":
        return principal.granted(namespace)
    return False


class TokenVerifier:
    """Token checks for another process (the feature server) from a database URL.

    Lookups are cached for ``ttl_s`` seconds so a hot path does one query per token
    per interval; a revoked token stops working within that interval. A database
    without the lineage tables (never migrated) simply has no tokens. A database that
    does not answer is neither: both checks raise ``StoreUnavailable`` (nothing is cached),
    so callers fail closed instead of taking "no answer" for "no tokens".
    """

    def __init__(self, database_url: str, ttl_s: float = 5.0) -> None:
        from lineage.db.session import make_engine, make_sessionmaker

        self._engine = make_engine(database_url)
        self._maker = make_sessionmaker(self._engine)
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._has: tuple[float, bool] = (0.0, False)

    def has_tokens(self) -> bool:
        """Whether any live token exists (then every request must carry one).

        Raises:
            StoreUnavailable: the database did not answer.

        """
        import time

        now = time.monotonic()
        if now - self._has[0] < self._ttl:
            return self._has[1]
        try:
            with self._maker() as session:
                has = any(t.revoked_at is None for t, _ in access_sql.list_tokens(session))
        except DB_ERRORS as exc:
            self._unless_unmigrated(exc)
            has = False
        self._has = (now, has)
        return has

    def verify(self, token: str) -> Principal | None:
        """The principal of a live token, or None.

        Raises:
            StoreUnavailable: the database did not answer.

        """
        import time

        key = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self._ttl:
            return hit[1]
        try:
            with self._maker() as session:
                principal = authenticate(session, token)
        except DB_ERRORS as exc:
            self._unless_unmigrated(exc)
            principal = None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (now, principal)
        return principal

    def _unless_unmigrated(self, exc: Exception) -> None:
        """Return if the query failed only because the token table does not exist; else raise."""
        from sqlalchemy import inspect

        try:
            missing = not inspect(self._engine).has_table(Token.__tablename__)
        except DB_ERRORS:
            missing = False
        if not missing:
            _log.error("token store unavailable: %s", exc)
            raise StoreUnavailable(what="token store") from exc

    def close(self) -> None:
        self._engine.dispose()


class ReadAuditor:
    """Batched audit of feature reads for another process (the feature server).

    ``record`` only appends to an in-memory buffer (no I/O on the request path); ``flush``
    appends every buffered entry to the hash-chained audit log in one transaction, chained with
    ``key`` (``LINEAGE_AUDIT_KEY``; None: plain SHA-256), so ``skewless lineage audit verify``
    covers them. A database without the lineage tables is
    migrated on the first flush. When a flush fails, the entries stay buffered (in order) for
    the next one and the failure is logged: nothing is dropped.

    Thread-safe: requests may ``record`` while another thread flushes.
    """

    def __init__(self, database_url: str, *, key: bytes | None) -> None:
        import threading

        from lineage.db.session import make_engine, make_sessionmaker

        self._database_url = database_url
        self._key = key
        self._engine = make_engine(database_url)
        self._maker = make_sessionmaker(self._engine)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._buffer: list[PendingEntry] = []
        self._ready = False
        self._key_checked = False

    @property
    def pending(self) -> int:
        """How many entries are buffered and not yet written."""
        return len(self._buffer)

    def record(
        self,
        principal: str,
        action: str,
        obj: str,
        allowed: bool,
        source: str | None,
        *,
        ts: datetime | None = None,
    ) -> None:
        """Buffer one audit entry, timestamped ``ts`` (default: now).

        Args:
            principal: Who read (``anonymous`` when unauthenticated).
            action: What was done, e.g. ``read``.
            obj: The object read, e.g. ``feature_view/<view name>``.
            allowed: The authorization decision.
            source: The client address, if known.
            ts: When the read happened, if it was recorded elsewhere first.

        """
        entry = PendingEntry(
            ts=ts or datetime.now(UTC),
            principal=principal,
            action=action,
            object=obj,
            allowed=allowed,
            source_address=source or "unknown",
        )
        with self._lock:
            self._buffer.append(entry)

    def flush(self) -> int:
        """Append every buffered entry to the audit log in one transaction.

        Returns:
            How many entries were written (0 when the write failed; they stay buffered).

        """
        from lineage.audit import append_audit_batch, key_mismatch
        from lineage.db.session import session_scope

        with self._flush_lock:
            with self._lock:
                batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            problem = None
            try:
                self._ensure_schema()
                with session_scope(self._maker) as session:
                    if not self._key_checked:  # once: another key would break the chain
                        problem = key_mismatch(session, key=self._key)
                        self._key_checked = problem is None
                    if problem is None:
                        append_audit_batch(session, batch, key=self._key)
            except _FLUSH_ERRORS as exc:
                problem = str(exc)
            if problem is not None:
                _log.error("read audit flush failed, %d entries kept: %s", len(batch), problem)
                with self._lock:
                    self._buffer[:0] = batch
                return 0
            return len(batch)

    def close(self) -> None:
        """Flush what is buffered, then release the engine."""
        try:
            self.flush()
        finally:
            self._engine.dispose()

    def prepare(self) -> None:
        """Create the audit tables now (if missing) rather than on the first flush.

        Errors are logged, not raised: the first flush will try again.
        """
        try:
            self._ensure_schema()
        except Exception:  # the database may be down at startup; flush retries
            logging.getLogger("lineage.access").exception("audit log not ready")

    def _ensure_schema(self) -> None:
        if self._ready:
            return
        from sqlalchemy import inspect

        from lineage.db.migrate import upgrade_head

        if not inspect(self._engine).has_table(AuditLog.__tablename__):
            upgrade_head(self._database_url)
        self._ready = True
