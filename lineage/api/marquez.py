"""HTTP routes of the Marquez-compatible read API, beside ours under ``/api/v1``.

Each route parses, authenticates (our bearer tokens), calls ``lineage.marquez`` (or its events
and column modules) with the caller, and returns a model of ``lineage.api.marquez_schemas``.
Redaction is the service's: hidden objects are not listed and read as 404 like missing ones.
Names may hold ``/`` and ``:``: a client URL-encodes them (as Marquez's clients do) and the
names are read from the raw path, segment by segment (``_names``), so ``%2F`` stays inside a name
even though the decoded path has lost the difference. Pages are ``limit``/``offset``
(``limit`` capped at ``LINEAGE_PAGE_SIZE_MAX``).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.orm import Session

from lineage import access, marquez, marquez_columns, marquez_events
from lineage.api.deps import current_principal, get_app_settings, get_session, note_object
from lineage.api.marquez_schemas import (
    ColumnLineageResponse,
    DatasetListResponse,
    DatasetResponse,
    DatasetVersionListResponse,
    JobListResponse,
    JobResponse,
    LineageEventListResponse,
    NamespaceListResponse,
    NamespaceResponse,
    RunListResponse,
    RunResponse,
    SearchResultListResponse,
)
from lineage.api.schemas import IsoDateTime
from lineage.queries import aware_utc
from lineage.settings import LineageSettings
from lineage.usage import MAX_OFFSET

router = APIRouter(prefix="/api/v1", tags=["Marquez-compatible"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": dict[str, Any]} for code in (401, 404, 422, 503)
}

Name = Annotated[str, Path(min_length=1, max_length=1024)]
Limit = Annotated[int, Query(ge=1, le=2**31 - 1)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Caller = Annotated[access.Principal, Depends(current_principal)]
Db = Annotated[Session, Depends(get_session, scope="function")]
Settings = Annotated[LineageSettings, Depends(get_app_settings)]


def _limit(limit: int, settings: LineageSettings) -> int:
    return min(limit, settings.page_size_max)


def _names(request: Request, *matched: str) -> tuple[str, ...]:
    """The namespace (and dataset or job name) a ``/namespaces/...`` request addresses.

    Routes match the decoded path with greedy ``:path`` parameters, which cannot tell an encoded
    ``/`` inside a name from a separator. The raw path can: split on its literal ``/``, the name
    segments are those after ``namespaces`` at the route's positions (every other position holds
    the route's own words), each percent-decoded. A raw path that does not line up that way
    (a client that sent a name's ``/`` unencoded) keeps the matched values.
    """
    raw = request.scope.get("raw_path")
    words = request.scope["route"].path.split("/")
    if not isinstance(raw, bytes):
        return matched
    segments = raw.decode("latin-1").split("/")
    if len(segments) != len(words):
        return matched
    names = []
    for word, segment in zip(words, segments, strict=True):
        if word.startswith("{"):
            names.append(unquote(segment))
        elif word != segment:
            return matched
    return tuple(names)


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
    (namespace,) = _names(request, namespace)
    note_object(request, f"namespace:{namespace}")
    found = marquez.list_datasets(
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
    namespace, dataset = _names(request, namespace, dataset)
    note_object(request, f"dataset:{namespace}:{dataset}")
    found = marquez.list_dataset_versions(
        session, caller, namespace, dataset, limit=_limit(limit, settings), offset=offset
    )
    return DatasetVersionListResponse.model_validate(found)


@router.get("/namespaces/{namespace:path}/datasets/{dataset:path}", responses=ERRORS)
def get_dataset(
    request: Request, namespace: Name, dataset: Name, caller: Caller, session: Db
) -> DatasetResponse:
    """Return one dataset: fields from its schema facet, current version, facets."""
    namespace, dataset = _names(request, namespace, dataset)
    note_object(request, f"dataset:{namespace}:{dataset}")
    return DatasetResponse.model_validate(marquez.get_dataset(session, caller, namespace, dataset))


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
    (namespace,) = _names(request, namespace)
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
    namespace, job = _names(request, namespace, job)
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
    namespace, job = _names(request, namespace, job)
    note_object(request, f"job:{namespace}:{job}")
    return JobResponse.model_validate(marquez.get_job(session, caller, namespace, job))


# Last of the /namespaces routes: its greedy parameter would match every longer path.
@router.get("/namespaces/{namespace:path}", responses=ERRORS)
def get_namespace(
    request: Request, namespace: Name, caller: Caller, session: Db
) -> NamespaceResponse:
    """Return one namespace (404 when missing or outside the caller's grants)."""
    (namespace,) = _names(request, namespace)
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
    note_object(request, f"run:{run_id}")
    return RunResponse.model_validate(marquez.get_run(session, caller, run_id))


@router.get("/events/lineage", responses=ERRORS)
def list_lineage_events(
    caller: Caller,
    session: Db,
    settings: Settings,
    before: IsoDateTime | None = None,
    after: IsoDateTime | None = None,
    sort_direction: Annotated[Literal["asc", "desc"], Query(alias="sortDirection")] = "desc",
    limit: Limit = 100,
    offset: Offset = 0,
) -> LineageEventListResponse:
    """List stored OpenLineage events by event time, within ``(after, before)``."""
    found = marquez_events.list_events(
        session,
        caller,
        before=before,
        after=after,
        ascending=sort_direction == "asc",
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
    kind: Annotated[Literal["dataset", "job"] | None, Query(alias="filter")] = None,
    sort: Literal["name", "updated_at"] = "name",
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
        kind=kind,
        sort=sort,
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
