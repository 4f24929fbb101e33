"""HTTP routes of the Marquez-compatible read API, beside ours under ``/api/v1``.

Each route parses, authenticates (our bearer tokens), calls ``lineage.marquez`` (or its events
and column modules) with the caller, and returns a model of ``lineage.api.marquez_schemas``.
Redaction is the service's: hidden objects are not listed and read as 404 like missing ones.
Names may hold ``/`` and ``:``: a client URL-encodes them (as Marquez's clients do), and
``EncodedNames`` routes ``/namespaces/...`` requests on a path rebuilt from the raw one in which
a name's ``/`` stays encoded, so ``datasets/a%2Fversions`` is dataset ``a/versions``, never the
versions of ``a``; ``_names`` decodes the matched values. Pages are ``limit``/``offset``
(``limit`` capped at ``LINEAGE_PAGE_SIZE_MAX``; 0 gives the count alone, as in Marquez).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Literal
from urllib.parse import unquote, unquote_to_bytes

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from lineage import access, marquez, marquez_columns, marquez_datasets, marquez_events
from lineage.api.deps import current_principal, get_app_settings, get_session, note_object
from lineage.api.marquez_schemas import (
    ColumnLineageResponse,
    DatasetListResponse,
    DatasetResponse,
    DatasetVersionListResponse,
    DatasetVersionResponse,
    JobListResponse,
    JobResponse,
    LineageEventListResponse,
    NamespaceListResponse,
    NamespaceResponse,
    RunListResponse,
    RunResponse,
    SearchResultListResponse,
)
from lineage.queries import aware_utc
from lineage.settings import LineageSettings
from lineage.times import IsoDateTime
from lineage.usage import MAX_OFFSET

router = APIRouter(prefix="/api/v1", tags=["Marquez-compatible"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": dict[str, Any]} for code in (401, 404, 422, 503)
}

Name = Annotated[str, Path(min_length=1, max_length=1024)]
Limit = Annotated[int, Query(ge=0, le=2**31 - 1)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Caller = Annotated[access.Principal, Depends(current_principal)]
Db = Annotated[Session, Depends(get_session, scope="function")]
Settings = Annotated[LineageSettings, Depends(get_app_settings)]


def _limit(limit: int, settings: LineageSettings) -> int:
    return min(limit, settings.page_size_max)


NAMESPACES = "/api/v1/namespaces/"


class EncodedNames:
    """Route ``/api/v1/namespaces/...`` on the raw path, with each name's ``/`` kept encoded.

    The decoded path cannot tell an encoded ``/`` inside a name from a separator, so a greedy
    ``:path`` route would read ``datasets/a%2Fversions`` as the versions of ``a``. Here the path
    is rebuilt from the raw one: each segment decoded, then its ``%`` and ``/`` encoded again,
    so a name is one segment and the routes' words are matched only where the client put them.
    A client that sends a name's ``/`` unencoded still reaches the greedy routes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path")
        if scope["type"] == "http" and scope["path"].startswith(NAMESPACES) and raw:
            # In place: the layers outside (metrics) read the route the router sets on it.
            scope["path"] = "/".join(map(_segment, raw.split(b"/")))
        await self.app(scope, receive, send)


def _segment(raw: bytes) -> str:
    text = unquote_to_bytes(raw).decode("utf-8", "replace")
    return text.replace("%", "%25").replace("/", "%2F")


def _names(*matched: str) -> tuple[str, ...]:
    """The names a ``/namespaces/...`` route matched, decoded (``EncodedNames`` kept them so)."""
    return tuple(unquote(value) for value in matched)


@router.get("/namespaces", responses=ERRORS)
def list_namespaces(
    caller: Caller, session: Db, settings: Settings, limit: Limit = 100, offset: Offset = 0
) -> NamespaceListResponse:
    """List the namespaces the caller may read, by name."""
    found = marquez.list_namespaces(session, caller, limit=_limit(limit, settings), offset=offset)
    return NamespaceListResponse.model_validate(found)


@router.get("/namespaces/{namespace:path}/datasets", responses=ERRORS)
def list_datasets(
    request: Request,
    namespace: Name,
    caller: Caller,
    session: Db,
    settings: Settings,
    limit: Limit = 100,
    offset: Offset = 0,
) -> DatasetListResponse:
    """List a namespace's datasets by name, with their current schema and version."""
    (namespace,) = _names(namespace)
    note_object(request, f"namespace:{namespace}")
    found = marquez_datasets.list_datasets(
        session, caller, namespace, limit=_limit(limit, settings), offset=offset
    )
    return DatasetListResponse.model_validate(found)


@router.get("/namespaces/{namespace:path}/datasets/{dataset:path}/versions", responses=ERRORS)
def list_dataset_versions(
    request: Request,
    namespace: Name,
    dataset: Name,
    caller: Caller,
    session: Db,
    settings: Settings,
    limit: Limit = 100,
    offset: Offset = 0,
) -> DatasetVersionListResponse:
    """List a dataset's versions, newest first, each with the run that wrote it."""
    namespace, dataset = _names(namespace, dataset)
    note_object(request, f"dataset:{namespace}:{dataset}")
    found = marquez_datasets.list_dataset_versions(
        session, caller, namespace, dataset, limit=_limit(limit, settings), offset=offset
    )
    return DatasetVersionListResponse.model_validate(found)


@router.get(
    "/namespaces/{namespace:path}/datasets/{dataset:path}/versions/{version:path}",
    responses=ERRORS,
)
def get_dataset_version(
    request: Request, namespace: Name, dataset: Name, version: Name, caller: Caller, session: Db
) -> DatasetVersionResponse:
    """Return one version of a dataset, with the run that wrote it."""
    namespace, dataset, version = _names(namespace, dataset, version)
    note_object(request, f"datasetVersion:{namespace}:{dataset}#{version}")
    found = marquez_datasets.get_dataset_version(session, caller, namespace, dataset, version)
    return DatasetVersionResponse.model_validate(found)


@router.get("/namespaces/{namespace:path}/datasets/{dataset:path}", responses=ERRORS)
def get_dataset(
    request: Request, namespace: Name, dataset: Name, caller: Caller, session: Db
) -> DatasetResponse:
    """Return one dataset: fields from its schema facet, current version, facets."""
    namespace, dataset = _names(namespace, dataset)
    note_object(request, f"dataset:{namespace}:{dataset}")
    found = marquez_datasets.get_dataset(session, caller, namespace, dataset)
    return DatasetResponse.model_validate(found)


@router.get("/namespaces/{namespace:path}/jobs", responses=ERRORS)
def list_jobs(
    request: Request,
    namespace: Name,
    caller: Caller,
    session: Db,
    settings: Settings,
    limit: Limit = 100,
    offset: Offset = 0,
) -> JobListResponse:
    """List a namespace's jobs by name, with inputs, outputs and latest runs."""
    (namespace,) = _names(namespace)
    note_object(request, f"namespace:{namespace}")
    found = marquez.list_jobs(
        session, caller, namespace, limit=_limit(limit, settings), offset=offset
    )
    return JobListResponse.model_validate(found)


@router.get("/namespaces/{namespace:path}/jobs/{job:path}/runs", responses=ERRORS)
def list_job_runs(
    request: Request,
    namespace: Name,
    job: Name,
    caller: Caller,
    session: Db,
    settings: Settings,
    limit: Limit = 100,
    offset: Offset = 0,
) -> RunListResponse:
    """List a job's runs, newest first."""
    namespace, job = _names(namespace, job)
    note_object(request, f"job:{namespace}:{job}")
    found = marquez.list_job_runs(
        session, caller, namespace, job, limit=_limit(limit, settings), offset=offset
    )
    return RunListResponse.model_validate(found)


@router.get("/namespaces/{namespace:path}/jobs/{job:path}", responses=ERRORS)
def get_job(
    request: Request, namespace: Name, job: Name, caller: Caller, session: Db
) -> JobResponse:
    """Return one job: inputs, outputs, location, latest run, facets."""
    namespace, job = _names(namespace, job)
    note_object(request, f"job:{namespace}:{job}")
    return JobResponse.model_validate(marquez.get_job(session, caller, namespace, job))


# Last of the /namespaces routes: its greedy parameter would match every longer path.
@router.get("/namespaces/{namespace:path}", responses=ERRORS)
def get_namespace(
    request: Request, namespace: Name, caller: Caller, session: Db
) -> NamespaceResponse:
    """Return one namespace (404 when missing or outside the caller's grants)."""
    (namespace,) = _names(namespace)
    note_object(request, f"namespace:{namespace}")
    return NamespaceResponse.model_validate(marquez.get_namespace(session, caller, namespace))


@router.get("/jobs/runs/{run_id}", responses=ERRORS)
def get_run(
    request: Request,
    run_id: Annotated[str, Path(min_length=1, max_length=36)],
    caller: Caller,
    session: Db,
) -> RunResponse:
    """Return one run: state, times, input and output dataset versions, facets."""
    run_id = run_id.lower()  # stored as intake normalized it; UUIDs ignore case
    note_object(request, f"run:{run_id}")
    return RunResponse.model_validate(marquez.get_run(session, caller, run_id))


@router.get("/events/lineage", responses=ERRORS)
def list_lineage_events(
    caller: Caller,
    session: Db,
    settings: Settings,
    before: IsoDateTime | None = None,
    after: IsoDateTime | None = None,
    sort_direction: Annotated[
        Literal["asc", "desc", "ASC", "DESC"], Query(alias="sortDirection")
    ] = "desc",
    limit: Limit = 100,
    offset: Offset = 0,
) -> LineageEventListResponse:
    """List stored OpenLineage events by event time, within ``(after, before)``."""
    found = marquez_events.list_events(
        session,
        caller,
        before=before,
        after=after,
        ascending=sort_direction.lower() == "asc",
        limit=_limit(limit, settings),
        offset=offset,
    )
    return LineageEventListResponse.model_validate(found)


@router.get("/search", responses=ERRORS)
def search(
    caller: Caller,
    session: Db,
    settings: Settings,
    q: Annotated[str, Query(min_length=1, max_length=1024)],
    kind: Annotated[
        Literal["dataset", "job", "DATASET", "JOB"] | None, Query(alias="filter")
    ] = None,
    sort: Literal["name", "updated_at", "NAME", "UPDATED_AT"] = "name",
    namespace: Annotated[str | None, Query(max_length=1024)] = None,
    before: date | None = None,
    after: date | None = None,
    limit: Limit = 10,
    offset: Offset = 0,
) -> SearchResultListResponse:
    """Search dataset and job names (``%``/``_`` patterns, any case) in readable namespaces."""
    found = marquez_events.search(
        session,
        caller,
        q,
        kind=None if kind is None else kind.lower(),
        sort=sort.lower(),
        namespace=namespace,
        before=_day(before),
        after=_day(after),
        limit=_limit(limit, settings),
        offset=offset,
    )
    return SearchResultListResponse.model_validate(found)


def _day(day: date | None) -> datetime | None:
    return None if day is None else aware_utc(datetime.combine(day, time.min))


@router.get("/column-lineage", responses=ERRORS)
def get_column_lineage(
    request: Request,
    caller: Caller,
    session: Db,
    settings: Settings,
    node_id: Annotated[
        str,
        Query(
            alias="nodeId",
            min_length=1,
            max_length=2000,
            pattern=r"^(dataset|datasetField|job):.+:.+$",
        ),
    ],
    depth: Annotated[int, Query(ge=0, le=2**31 - 1)] = 20,
    with_downstream: Annotated[bool, Query(alias="withDownstream")] = False,
) -> ColumnLineageResponse:
    """Return the column lineage around a dataset, field or job (depth and size capped)."""
    note_object(request, node_id)
    found = marquez_columns.column_lineage(
        session,
        node_id,
        min(depth, settings.max_depth),
        caller,
        with_downstream=with_downstream,
        max_nodes=settings.page_size_max,
    )
    return ColumnLineageResponse.model_validate(found)
