"""Request-scoped dependencies: the DB session, the settings, the caller, and audit notes."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from lineage.access import Action, Principal, authenticate, authorize
from lineage.db.session import session_scope
from lineage.errors import Forbidden, Unauthenticated
from lineage.settings import LineageSettings


def get_session(request: Request) -> Iterator[Session]:
    """Yield a session in one transaction: committed on success, rolled back on error.

    Routes depend on it with ``scope="function"`` so the commit happens before the response is
    sent: a 201 means the event is durable.
    """
    with session_scope(request.app.state.sessionmaker) as session:
        yield session


def get_app_settings(request: Request) -> LineageSettings:
    """Return the settings the app was created with."""
    settings: LineageSettings = request.app.state.settings
    return settings


def current_principal(
    request: Request, session: Session = Depends(get_session, scope="function")
) -> Principal:
    """Authenticate the bearer token; raise ``Unauthenticated`` when missing or unknown."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    principal = authenticate(session, token.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        raise Unauthenticated("a valid bearer token is required")
    request.state.principal_name = principal.name
    return principal


def note_object(request: Request, obj: str) -> None:
    """Record the object a request addresses, for its audit entry."""
    request.state.audit_object = obj


def require(principal: Principal, action: Action, namespace: str) -> None:
    """Raise ``Forbidden`` unless ``principal`` may do ``action`` on ``namespace``."""
    if not authorize(principal, action, namespace):
        raise Forbidden(principal=principal.name, action=action, namespace=namespace)
