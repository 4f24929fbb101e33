"""Request-scoped dependencies: the DB session, the settings, the caller, and audit notes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from anyio import CancelScope
from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lineage.access import Action, Principal, authenticate, authorize
from lineage.api.middleware import audit_fields, is_audited
from lineage.audit import append_audit
from lineage.db.session import committed
from lineage.errors import Forbidden, Unauthenticated
from lineage.settings import LineageSettings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """Yield a session in one transaction: committed with the request's audit entry, or undone.

    Routes depend on it with ``scope="function"`` so the commit happens before the response is
    sent: a 201 means the change and its audit entry are durable, together. A session connects
    on first use, so opening it costs no thread; the commit (or rollback) takes one. A route
    that raises leaves its entry to ``AuditMiddleware``, which knows the error's status.
    """
    session = request.app.state.sessionmaker()
    try:
        yield session
    except BaseException:
        with CancelScope(shield=True):  # a cancelled request still gives its connection back
            await run_in_threadpool(_abandon, session)
        raise
    await run_in_threadpool(_commit_audited, request, session)


def _abandon(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


def _commit_audited(request: Request, session: Session) -> None:
    audited = is_audited(request.scope)
    with committed(session):
        if audited:
            # A route that returned was allowed (a refusal raises), whatever it answers.
            fields = audit_fields(request.scope, 200)
            append_audit(session, **fields, key=request.app.state.settings.audit_key_bytes)
    request.state.audited = audited


async def get_app_settings(request: Request) -> LineageSettings:
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
