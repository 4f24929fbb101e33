"""SQL of access control and the audit log: principals, tokens, their grants, the chain's rows.

Functions take a ``Session`` and plain values; callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Text, any_, bindparam, delete, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from lineage.db import raw
from lineage.db.models import (
    AuditHead,
    AuditLog,
    Principal,
    Token,
    TokenGrant,
)
from lineage.db.repositories import get_or_create


def token_by_hash(session: Session, token_hash: str) -> Token | None:
    """Return the token with this hash, live or revoked (None if none was ever issued)."""
    return session.scalars(select(Token).where(Token.token_hash == token_hash)).first()


_TOKENS = (
    select(Token.token_hash, Principal.name, Token.role, TokenGrant.namespace)
    .join(Principal, Principal.id == Token.principal_id)
    .outerjoin(TokenGrant, TokenGrant.token_id == Token.id)
    .where(Token.revoked_at.is_(None))
)
_CALLERS = _TOKENS.where(Token.token_hash.in_(bindparam("keys", expanding=True)))
# PostgreSQL: the hashes as one array (constant text), run on psycopg directly (lineage.db.raw).
_CALLERS_PG = _TOKENS.where(Token.token_hash == any_(bindparam("keys", type_=ARRAY(Text))))


def callers(
    session: Session, token_hashes: Collection[str]
) -> dict[str, tuple[str, str, set[str]]]:
    """Return (principal name, role, granted namespaces) keyed by live token hash, in one query."""
    if not token_hashes:
        return {}
    params = {"keys": list(token_hashes)}
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        rows: Iterable[Any] = raw.execute(session, _CALLERS_PG, params)
    else:
        rows = connection.execute(_CALLERS, params)
    return callers_of(rows)


def callers_sql(hashes_query: str) -> str:
    """``callers``' query as PostgreSQL text, for token hashes given by ``hashes_query``.

    For a statement that reads the callers along with other things (the intake's batch read).
    """
    stmt = _TOKENS.where(Token.token_hash.in_(text(hashes_query)))
    return str(stmt.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]


def callers_of(rows: Iterable[Any]) -> dict[str, tuple[str, str, set[str]]]:
    """Fold (token hash, name, role, namespace) rows into ``callers``' answer."""
    out: dict[str, tuple[str, str, set[str]]] = {}
    for token_hash, name, role, namespace in rows:
        found = out.setdefault(token_hash, (name, role, set()))
        if namespace is not None:
            found[2].add(namespace)
    return out


def grants_of(session: Session, token_ids: Collection[int]) -> dict[int, list[str]]:
    """Return granted namespaces keyed by token id."""
    out: dict[int, list[str]] = {tid: [] for tid in token_ids}
    stmt = (
        select(TokenGrant).where(TokenGrant.token_id.in_(token_ids)).order_by(TokenGrant.namespace)
    )
    for grant in session.scalars(stmt):
        out[grant.token_id].append(grant.namespace)
    return out


def delete_grant(session: Session, token_id: int, namespace: str) -> bool:
    """Delete one grant of a token; returns False if the token holds no such grant."""
    stmt = (
        delete(TokenGrant)
        .where(TokenGrant.token_id == token_id, TokenGrant.namespace == namespace)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def list_tokens(session: Session) -> list[tuple[Token, Principal]]:
    """Return every token with its principal, oldest first."""
    stmt = select(Token, Principal).join(Principal, Principal.id == Token.principal_id)
    return list(session.execute(stmt.order_by(Token.id)))


def revoke_token(session: Session, token_id: int, now: datetime) -> bool:
    """Mark a token revoked; returns False if no live token has this id."""
    stmt = (
        update(Token)
        .where(Token.id == token_id, Token.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def token_exists(session: Session, token_id: int) -> bool:
    """Whether a token (live or revoked) has this id."""
    return session.scalar(select(Token.id).where(Token.id == token_id)) is not None


# --- audit log ---------------------------------------------------------------------------------


_HEAD = select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1).with_for_update()


def lock_audit_head(session: Session) -> tuple[int, str]:
    """Lock the chain head and return its (last id, last hash).

    ``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serializes writers already.
    """
    if session.connection().dialect.name == "postgresql":
        found = raw.execute(session, _HEAD, {})
        row = found[0] if found else None
    else:
        row = session.connection().execute(_HEAD).first()
    if row is None:
        head, _ = get_or_create(
            session, AuditHead, {"id": 1}, {"last_id": 0, "last_hash": "0" * 64}
        )
        return head.last_id, head.last_hash
    return int(row.last_id), str(row.last_hash)


def iter_audit(
    session: Session, *, after: int | None = None, batch: int = 1000
) -> Iterator[AuditLog]:
    """Yield every audit entry in id order, ``batch`` rows per query.

    From the lowest id there is (zero and negative ids included: the audit API returns them
    too), or from the first id above ``after``.
    """
    last = after
    while True:
        stmt = select(AuditLog).order_by(AuditLog.id).limit(batch)
        if last is not None:
            stmt = stmt.where(AuditLog.id > last)
        rows = list(session.scalars(stmt))
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def query_audit(
    session: Session,
    *,
    principal: str | None,
    obj: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> list[AuditLog]:
    """Return audit entries matching the filters, newest first."""
    stmt = select(AuditLog)
    if principal is not None:
        stmt = stmt.where(AuditLog.principal == principal)
    if obj is not None:
        stmt = stmt.where(AuditLog.object == obj)
    if since is not None:
        stmt = stmt.where(AuditLog.ts >= since)
    if until is not None:
        stmt = stmt.where(AuditLog.ts < until)
    stmt = stmt.order_by(AuditLog.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))
