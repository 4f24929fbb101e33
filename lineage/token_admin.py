"""Issuing, revoking and listing bearer tokens (the admin side of ``lineage.access``).

A token carries the role and the namespace grants it was issued with; a principal is the name its
tokens act under, and issuing it another token changes none of the ones it has. Only the
token's sha256 digest is stored (``access.hash_token``); the plain token is shown once.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from lineage.access import ALL_NAMESPACES, check_role, hash_token
from lineage.db import access_sql
from lineage.db import repositories as repo
from lineage.db.models import Principal as PrincipalRow
from lineage.db.models import Token, TokenGrant
from lineage.errors import InvalidQuery, NotFound
from lineage.events import NAME_MAX
from lineage.roles import Role

TOKEN_PREFIX = "skl_"
# ``TokenCreateRequest``'s bounds, checked here for the CLI too: ``principals.name`` holds 200
# characters; a grant's namespace holds ``NAME_MAX``, as an event's namespace does.
PRINCIPAL_MAX = 200
GRANTS_MAX = 100


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


def create_token(session: Session, principal: str, role: str, namespaces: Collection[str]) -> str:
    """Create a bearer token for ``principal`` (created if new) with ``role`` and grants.

    The CLI and ``POST /api/v1/tokens`` both come here, so both refuse the same input.

    Args:
        session: An open session; the caller commits.
        principal: The principal's name (1 to ``PRINCIPAL_MAX`` characters).
        role: One of ``admin``, ``producer``, ``consumer``, ``auditor``.
        namespaces: At most ``GRANTS_MAX`` namespaces this token may act in (each 1 to
            ``NAME_MAX`` characters); ``*`` grants all.

    Returns:
        The plain token. It is shown once; only its sha256 digest is stored.

    Raises:
        InvalidQuery: a principal or namespace that is empty or too long, too many
            namespaces, or an unknown role.

    """
    _check_name("principal", principal, PRINCIPAL_MAX)
    if len(namespaces) > GRANTS_MAX:
        raise InvalidQuery(field="namespaces", reason=f"at most {GRANTS_MAX} namespaces")
    for namespace in namespaces:
        _check_name("namespace", namespace, NAME_MAX)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    _issue(session, principal, check_role(role), namespaces, token)
    return token


def _check_name(field: str, value: str, limit: int) -> None:
    """A name the tables hold as given: not blank, at most ``limit`` characters."""
    if not value.strip():
        raise InvalidQuery(field=field, reason="required non-empty string")
    if len(value) > limit:
        raise InvalidQuery(field=field, reason=f"longer than {limit} characters ({len(value)})")


def ensure_token(session: Session, principal: str, role: str, token: str) -> bool:
    """Register a known token (e.g. the bootstrap admin token) if it was never issued.

    A token revoked once stays revoked: its digest is stored, so it is not issued again.

    Returns:
        Whether the token is live (False: it was revoked, and nothing was created).

    """
    found = access_sql.token_by_hash(session, hash_token(token))
    if found is not None:
        return found.revoked_at is None
    _issue(session, principal, check_role(role), [ALL_NAMESPACES], token)
    return True


def revoke_token(session: Session, token_id: int) -> bool:
    """Revoke a token by id; revoking a revoked token changes nothing (its time stays).

    Returns:
        True when revoked now, False when it was revoked already.

    Raises:
        NotFound: if no token has this id.

    """
    if access_sql.revoke_token(session, token_id, datetime.now(UTC)):
        return True
    if access_sql.token_exists(session, token_id):
        return False
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
