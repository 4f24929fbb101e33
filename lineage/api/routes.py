"""HTTP routes of the lineage service: parse, authorize, call the service, return a model.

Handlers are plain ``def`` because they call blocking database code (FastAPI runs them in a
thread pool). No SQL and no business rules here.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from lineage import access, service, token_admin
from lineage.api import event_schema
from lineage.api.deps import current_principal, get_app_settings, get_session, note_object, require
from lineage.api.intake_path import ingest_request
from lineage.api.schemas import (
    NODE_ID_PATTERN,
    AuditEntryResponse,
    AuditResponse,
    DeploymentRequest,
    DeploymentResponse,
    ErrorResponse,
    GraphResponse,
    HealthResponse,
    HistoryResponse,
    ImpactResponse,
    IngestResponse,
    ModelRequest,
    ModelResponse,
    ProvenanceResponse,
    ReadsResponse,
    TokenCreateRequest,
    TokenCreateResponse,
    TokenInfoResponse,
    UsageResponse,
)
from lineage.audit import list_audit
from lineage.db.repositories import database_answers
from lineage.identity import NAMESPACE
from lineage.queries import aware_utc
from lineage.settings import LineageSettings
from lineage.times import IsoDateTime
from lineage.usage import MAX_OFFSET

router = APIRouter()
_RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No bearer token, or an unknown or revoked one."},
    403: {"model": ErrorResponse, "description": "The token's role or grants do not allow this."},
    404: {"model": ErrorResponse, "description": "The addressed node, model or token is unknown."},
    409: {"model": ErrorResponse, "description": "An immutable object would change."},
    413: {"model": ErrorResponse, "description": "The body is over LINEAGE_MAX_BODY_BYTES."},
    422: {
        "model": ErrorResponse,
        "description": "Invalid request, ``field`` naming what: a body that is not JSON (or not "
        "UTF-8), a missing or malformed parameter (times are ISO-8601 text, never numbers), an "
        "invalid OpenLineage event, a value the database cannot store, or a reference to an "
        "object lineage does not hold.",
    },
    503: {
        "model": ErrorResponse,
        "description": "The lineage database (or its audit log) is unavailable; retry later.",
        "headers": {"Retry-After": _RETRY_AFTER},
    },
}


@router.post(
    "/api/v1/lineage",
    status_code=201,
    response_model=IngestResponse,
    responses=ERRORS,
    openapi_extra=event_schema.REQUEST_BODY,
)
async def post_lineage(request: Request) -> Response:
    """Accept one OpenLineage RunEvent, DatasetEvent or JobEvent (idempotent).

    Served by ``lineage.api.intake_path.IntakeEndpoint`` ahead of the routing stack; this route
    declares the contract in the OpenAPI schema and answers the same way if it is reached.
    """
    request.state.audited = True  # the intake writer appends this request's audit entry
    return await ingest_request(
        request.app.state.intake,
        request.headers.get("authorization", ""),
        await request.body(),
        request.client.host if request.client else "unknown",
        request.url.path,
        encoding=request.headers.get("content-encoding", ""),
        limit=request.app.state.settings.max_body_bytes,
    )


def _written(answer: dict[str, Any]) -> Response:
    """A large answer written as it is, its model declared on the route for the OpenAPI document.

    Validating up to 500 nodes into the model and dumping them back took ~2.5 ms of a depth-10
    graph answer at p95 (orjson: 0.2 ms); the tests hold each answer to be exactly its model.
    """
    return Response(orjson.dumps(answer), media_type="application/json")


@router.get("/api/v1/lineage", responses=ERRORS, response_model=GraphResponse)
def get_lineage(
    request: Request,
    node_id: str = Query(alias="nodeId", max_length=2000, pattern=NODE_ID_PATTERN),
    depth: int | None = Query(default=None, ge=0),
    as_of: IsoDateTime | None = Query(default=None, alias="asOf"),
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
    settings: LineageSettings = Depends(get_app_settings),
) -> Response:
    """Return the lineage graph around ``nodeId`` (as of ``asOf`` if given), redacted by grants."""
    note_object(request, node_id)
    graph = service.lineage_graph(
        session,
        node_id,
        settings.max_depth if depth is None else depth,
        principal,
        max_depth=settings.max_depth,
        max_nodes=settings.page_size_max,
        as_of=as_of,
    )
    return _written(graph)


@router.get("/api/v1/provenance/models/{name}/{version}", responses=ERRORS)
def get_provenance(
    request: Request,
    name: str,
    version: str,
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
    settings: LineageSettings = Depends(get_app_settings),
) -> ProvenanceResponse:
    """Return the exact upstream versions, runs and code versions of a model version."""
    note_object(request, f"model:{name}:{version}")
    found = service.provenance(
        session,
        name,
        version,
        principal=principal,
        max_depth=settings.max_depth,
        max_nodes=settings.page_size_max,
    )
    return ProvenanceResponse.model_validate(found)


@router.get("/api/v1/impact", responses=ERRORS, response_model=ImpactResponse)
def get_impact(
    request: Request,
    namespace: str = Query(min_length=1),
    dataset: str = Query(min_length=1),
    version: str = Query(min_length=1),
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
    settings: LineageSettings = Depends(get_app_settings),
) -> Response:
    """Return everything downstream of a dataset version: training sets, models, deployments."""
    note_object(request, f"datasetVersion:{namespace}:{dataset}#{version}")
    found = service.impact(
        session,
        namespace,
        dataset,
        version,
        principal=principal,
        max_depth=settings.max_depth,
        max_nodes=settings.page_size_max,
    )
    return _written(found)


@router.post("/api/v1/models", status_code=201, responses=ERRORS)
def post_model(
    request: Request,
    body: ModelRequest,
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
) -> ModelResponse:
    """Register a model version trained on a training-set version (idempotent).

    The stored model's own namespace governs (403 without ``write`` there; 409 if the body names
    another); an unknown or ambiguous training-set version is a 422 naming it.
    """
    note_object(request, f"model:{body.name}:{body.version}")
    found = service.register_model(
        session,
        body.name,
        body.version,
        body.trainingSetVersion,
        body.metrics,
        namespace=body.namespace,
        training_set=body.trainingSet,
        code_version=body.codeVersion,
        principal=principal,
    )
    return ModelResponse(
        name=found.name,
        version=found.version,
        namespace=found.namespace,
        trainingSetVersion=found.training_set_version,
        trainingSet=found.training_set,
    )


@router.get("/api/v1/audit", responses=ERRORS)
def get_audit(
    principal_name: str | None = Query(default=None, alias="principal"),
    obj: str | None = Query(default=None, alias="object"),
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
    limit: int = Query(default=100, ge=1),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
    settings: LineageSettings = Depends(get_app_settings),
) -> AuditResponse:
    """Query the audit log (auditors and admins), newest first."""
    require(principal, "audit", "*")
    entries = list_audit(
        session,
        principal=principal_name,
        obj=obj,
        since=aware_utc(since),
        until=aware_utc(until),
        limit=min(limit, settings.page_size_max),
        offset=offset,
    )
    return AuditResponse(entries=[AuditEntryResponse(**_camel(asdict(e))) for e in entries])


def _camel(entry: dict[str, Any]) -> dict[str, Any]:
    entry["sourceAddress"] = entry.pop("source_address")
    return entry


@router.post("/api/v1/tokens", status_code=201, responses=ERRORS)
def post_token(
    request: Request,
    body: TokenCreateRequest,
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
) -> TokenCreateResponse:
    """Create a token (admins only); the plain token is returned once."""
    note_object(request, f"principal:{body.principal}")
    require(principal, "admin", "*")
    token = token_admin.create_token(session, body.principal, body.role, body.namespaces)
    return TokenCreateResponse(
        principal=body.principal, role=body.role, namespaces=body.namespaces, token=token
    )


@router.get("/api/v1/tokens", responses=ERRORS)
def get_tokens(
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
) -> list[TokenInfoResponse]:
    """List tokens (admins only), never the tokens themselves."""
    require(principal, "admin", "*")
    return [
        TokenInfoResponse(
            id=t.id,
            principal=t.principal,
            role=t.role,
            namespaces=list(t.namespaces),
            createdAt=t.created_at,
            revokedAt=t.revoked_at,
        )
        for t in token_admin.list_tokens(session)
    ]


@router.delete("/api/v1/tokens/{token_id}", status_code=204, responses=ERRORS)
def delete_token(
    request: Request,
    token_id: int = Path(ge=1, le=2**63 - 1),
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
) -> None:
    """Revoke a token (admins only)."""
    note_object(request, f"token:{token_id}")
    require(principal, "admin", "*")
    token_admin.revoke_token(session, token_id)


@router.delete(
    "/api/v1/tokens/{token_id}/grants/{namespace:path}", status_code=204, responses=ERRORS
)
def delete_token_grant(
    request: Request,
    token_id: int = Path(ge=1, le=2**63 - 1),
    namespace: str = Path(min_length=1, max_length=400),
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
) -> None:
    """Revoke one namespace grant of a token (admins only); its other grants stay."""
    note_object(request, f"token:{token_id} grant:{namespace}")
    require(principal, "admin", "*")
    token_admin.revoke_grant(session, token_id, namespace)


@router.get("/api/v1/usage/feature-views/{view:path}", responses=ERRORS)
def get_usage(
    request: Request,
    view: str = Path(min_length=1, max_length=400),  # any name a feature view may have
    namespace: str = Query(default=NAMESPACE, min_length=1, max_length=400),
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
) -> UsageResponse:
    """Return the model versions consuming a feature view and the fields no model uses."""
    note_object(request, f"dataset:{namespace}:feature_view/{view}")
    found = service.usage(session, view, principal=principal, namespace=namespace)
    return UsageResponse.model_validate(found)


@router.get("/api/v1/reads/feature-views/{view:path}", responses=ERRORS)
def get_reads(
    request: Request,
    view: str = Path(min_length=1, max_length=400),  # any name a feature view may have
    namespace: str = Query(default=NAMESPACE, min_length=1, max_length=400),
    limit: int = Query(default=100, ge=1),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
    settings: LineageSettings = Depends(get_app_settings),
) -> ReadsResponse:
    """Return who read a feature view and when (auditors and admins), newest first."""
    note_object(request, f"dataset:{namespace}:feature_view/{view}")
    require(principal, "audit", "*")
    found = service.reads(
        session,
        view,
        principal=principal,
        namespace=namespace,
        limit=min(limit, settings.page_size_max),
        offset=offset,
        page_size_max=settings.page_size_max,
    )
    found["accesses"] = [_camel(a) for a in found["accesses"]]
    return ReadsResponse.model_validate(found)


@router.get("/api/v1/history", responses=ERRORS)
def get_history(
    request: Request,
    node_id: str = Query(alias="nodeId", max_length=2000, pattern=NODE_ID_PATTERN),
    limit: int = Query(default=100, ge=1),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
    settings: LineageSettings = Depends(get_app_settings),
) -> HistoryResponse:
    """Return a node's history (versions, runs or events), newest first, one page at a time."""
    note_object(request, node_id)
    found = service.history(
        session,
        node_id,
        principal=principal,
        limit=min(limit, settings.page_size_max),
        offset=offset,
        page_size_max=settings.page_size_max,
    )
    return HistoryResponse.model_validate(found)


@router.post("/api/v1/deployments", status_code=201, responses=ERRORS)
def post_deployment(
    request: Request,
    body: DeploymentRequest,
    principal: access.Principal = Depends(current_principal),
    session: Session = Depends(get_session, scope="function"),
) -> DeploymentResponse:
    """Record a model version's deployment to an environment (admins, producers in namespace)."""
    note_object(request, f"model:{body.model}:{body.version}")
    service.register_deployment(
        session,
        body.model,
        body.version,
        body.environment,
        feature_service=body.featureService,
        principal=principal,
    )
    return DeploymentResponse(**body.model_dump())


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "The database does not answer."}},
)
def health(request: Request) -> JSONResponse:
    """200 with ``{"status": "ok", "database": true}`` when the database answers, else 503."""
    ok = database_answers(request.app.state.sessionmaker)
    body = HealthResponse(status="ok" if ok else "unavailable", database=ok)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
