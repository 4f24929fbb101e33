"""The web console's server side: its static assets, who the caller is, the chain's verdict.

The console (``lineage/console/``) is a few hand-written files, no build step and no CDN: a
page of plain HTML, one stylesheet and small ES modules that call this service's own API with
the signed-in token, so what a token sees in the console is exactly what it may read over HTTP
(redaction included). Three routes exist for it and for any client: ``/api/v1/me`` (who a token
is), ``/api/v1/catalog`` (a namespace's services and views with their data, one call) and
``/api/v1/audit/verify`` (the audit chain's verdict, for auditors).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from sqlalchemy.orm import Session

from lineage import access, audit_verify
from lineage.api.deps import (
    current_principal,
    get_app_settings,
    get_session,
    note_object,
    require,
)
from lineage.api.routes import ERRORS
from lineage.catalog import catalog
from lineage.settings import LineageSettings

ASSETS = Path(__file__).resolve().parents[1] / "console"
CONSOLE_PATH = "/console"

router = APIRouter()
_ERRORS: dict[int | str, dict[str, Any]] = {c: ERRORS[c] for c in (401, 403, 404, 422, 503)}


class MeResponse(BaseModel):
    """The caller: its principal, its token's role and the namespaces granted (``*``: all)."""

    principal: str
    role: str
    namespaces: list[str]


class ChainResponse(BaseModel):
    """The audit chain's verdict: intact, or the first broken entry and why."""

    intact: bool
    brokenAt: int | None  # noqa: N815
    reason: str | None


class CatalogResponse(BaseModel):
    """A namespace's feature services (with drift) and views (with their data), Marquez-shaped."""

    namespace: str
    services: list[dict[str, Any]]
    views: list[dict[str, Any]]
    limit: int


@router.get("/", include_in_schema=False)
def console_home() -> RedirectResponse:
    """The service's home is the console."""
    return RedirectResponse(f"{CONSOLE_PATH}/", status_code=307)


@router.get("/api/v1/me", responses=_ERRORS)
def me(principal: access.Principal = Depends(current_principal)) -> MeResponse:
    """Who the bearer token is: principal, role and granted namespaces."""
    return MeResponse(
        principal=principal.name, role=principal.role, namespaces=sorted(principal.namespaces)
    )


@router.get("/api/v1/audit/verify", responses=_ERRORS)
def verify(
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
    settings: LineageSettings = Depends(get_app_settings),
) -> ChainResponse:
    """Verify the audit hash chain from its first entry (auditors and admins)."""
    require(principal, "audit", "*")
    broken = audit_verify.verify_chain(session, key=settings.audit_key_bytes)
    if broken is None:
        return ChainResponse(intact=True, brokenAt=None, reason=None)
    return ChainResponse(intact=False, brokenAt=broken.id, reason=broken.reason)


@router.get("/api/v1/catalog", responses=_ERRORS)
def get_catalog(
    request: Request,
    namespace: str = Query(min_length=1, max_length=1024),
    limit: int = Query(default=100, ge=1),
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
    settings: LineageSettings = Depends(get_app_settings),
) -> CatalogResponse:
    """Feature services and views of a namespace with their owners, data versions and verdicts."""
    note_object(request, f"catalog:{namespace}")
    found = catalog(session, principal, namespace, limit=min(limit, settings.page_size_max))
    return CatalogResponse.model_validate(found)


def mount_console(app: FastAPI) -> None:
    """Serve the console's assets under ``/console/`` (``index.html`` at its root)."""
    app.mount(CONSOLE_PATH, StaticFiles(directory=ASSETS, html=True), name="console")
