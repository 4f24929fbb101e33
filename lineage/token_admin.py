"""Issuing, revoking and listing bearer tokens (the admin side of ``lineage.access``).

A token carries the role and the namespace grants it was issued with; a principal is the name its
tokens act under, and issuing it another token changes none of the ones it has. Only the
token's sha256 digest is stored (``access.hash_token``); the plain token is shown once.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from lineage.access import ALL_NAMESPACES, check_role, hash_token
from lineage.db import access_sql
from lineage.db import repositories as repo
from lineage.db.models import Principal as PrincipalRow
from lineage.db.models import Token, TokenGrant
from lineage.errors import InvalidQuery, NotFound
from lineage.roles import Role

TOKEN_PREFIX = "skl_"


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed to admins (never the token itself)."""

    id: int
    principal: str
    role: str
    namespaces: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


def _issue(
    session: Session, principal: str, role: Role, namespaces: Iterable[str], token: str
) -> None:
    """Store ``token`` for ``principal`` (created if new) with its own role and grants.

    The principal's other tokens are left as they were issued: a role and grants belong to a
    token, so issuing one never widens (or narrows) another.
    """
    row, _ = repo.get_or_create(
        session, PrincipalRow, {"name": principal}, {"created_at": datetime.now(UTC)}
    )
    issued = Token(
        principal_id=row.id,
        token_hash=hash_token(token),
        role=role,
        created_at=datetime.now(UTC),
    )
    session.add(issued)
    session.flush()
    session.add_all(TokenGrant(token_id=issued.id, namespace=ns) for ns in sorted(set(namespaces)))
    session.flush()


def create_token(session: Session, principal: str, role: str, namespaces: Iterable[str]) -> str:
    """Create a bearer token for ``principal`` (created if new) with ``role`` and grants.

    Args:
        session: An open session; the caller commits.
        principal: The principal's name.
        role: One of ``admin``, ``producer``, ``consumer``, ``auditor``.
        namespaces: Namespaces this token may act in; ``*`` grants all.

    Returns:
        The plain token. It is shown once; only its sha256 digest is stored.

    Raises:
        InvalidQuery: an empty principal name or an unknown role.

    """
    if not principal.strip():
        raise InvalidQuery(field="principal", reason="required non-empty string")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    _issue(session, principal, check_role(role), namespaces, token)
    return token


def ensure_token(session: Session, principal: str, role: str, token: str) -> None:
    """Register a known token (e.g. the bootstrap admin token) if its digest is not stored yet."""
    if access_sql.find_tokens(session, [hash_token(token)]):
        return
    _issue(session, principal, check_role(role), [ALL_NAMESPACES], token)


def revoke_token(session: Session, token_id: int) -> None:
    """Revoke a token by id.

    Raises:
        NotFound: if no live token has this id.

    """
    if not access_sql.revoke_token(session, token_id, datetime.now(UTC)):
        raise NotFound(kind="token", key=str(token_id))


def revoke_grant(session: Session, token_id: int, namespace: str) -> None:
    """Take ``namespace`` out of token ``token_id``'s grants (its other grants stay).

    Raises:
        NotFound: if that token holds no such grant (or does not exist).

    """
    if not access_sql.delete_grant(session, token_id, namespace):
        raise NotFound(kind="grant", key=f"{namespace!r} of token {token_id}")


def list_tokens(session: Session) -> list[TokenInfo]:
    """List every token (live and revoked) with its principal, role and grants."""
    rows = access_sql.list_tokens(session)
    grants = access_sql.grants_of(session, {t.id for t, _ in rows})
    return [
        TokenInfo(
            id=t.id,
            principal=p.name,
            role=t.role,
            namespaces=tuple(grants[t.id]),
            created_at=t.created_at,
            revoked_at=t.revoked_at,
        )
        for t, p in rows
    ]
