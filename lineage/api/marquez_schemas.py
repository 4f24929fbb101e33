"""Response models of the Marquez-compatible read API, in Marquez's JSON shapes and casing.

Field names follow Marquez's OpenAPI spec (``spec/openapi.yml``) and its Java models, so its
clients (``marquez-python``, the Marquez web UI) read our answers unchanged. Facets are the
OpenLineage facets we hold, verbatim.
"""

# ruff: noqa: N815 (Marquez's JSON casing is the contract)

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class NamespaceResponse(BaseModel):
    """A namespace: where datasets and jobs live."""

    name: str
    createdAt: datetime
    updatedAt: datetime
    ownerName: str
    description: str | None
    isHidden: bool


class NamespaceListResponse(BaseModel):
    """``GET /api/v1/namespaces``."""

    namespaces: list[NamespaceResponse]
    totalCount: int


class DatasetIdResponse(BaseModel):
    """A dataset's (or job's) identity."""

    namespace: str
    name: str


class DatasetVersionIdResponse(DatasetIdResponse):
    """A dataset version's identity (``version``: the producer's version string)."""

    version: str


class FieldResponse(BaseModel):
    """A schema field of a dataset (from its ``schema`` facet)."""

    name: str
    type: str | None
    tags: list[str]
    description: str | None


class DatasetResponse(BaseModel):
    """A dataset with its current schema, current version and facets."""

    id: DatasetIdResponse
    type: str
    name: str
    physicalName: str
    createdAt: datetime
    updatedAt: datetime
    namespace: str
    sourceName: str
    fields: list[FieldResponse]
    tags: list[str]
    lastModifiedAt: datetime | None
    lastLifecycleState: str | None
    description: str | None
    currentVersion: str | None
    facets: dict[str, Any]
    deleted: bool


class DatasetListResponse(BaseModel):
    """``GET /api/v1/namespaces/{namespace}/datasets``."""

    datasets: list[DatasetResponse]
    totalCount: int


class RunVersionResponse(BaseModel):
    """A dataset version a run read or wrote."""

    datasetVersionId: DatasetVersionIdResponse
    facets: dict[str, Any]


class JobVersionIdResponse(BaseModel):
    """A run's job and its code version (``sourceCodeLocation.version``), if known."""

    namespace: str
    name: str
    version: str | None


class RunResponse(BaseModel):
    """A run: state, times, the dataset versions it read and wrote, facets."""

    id: str
    createdAt: datetime
    updatedAt: datetime
    nominalStartTime: str | None
    nominalEndTime: str | None
    state: str
    startedAt: datetime | None
    endedAt: datetime | None
    durationMs: int | None
    args: dict[str, str]
    jobVersion: JobVersionIdResponse
    inputDatasetVersions: list[RunVersionResponse]
    outputDatasetVersions: list[RunVersionResponse]
    context: dict[str, str]
    facets: dict[str, Any]


class RunListResponse(BaseModel):
    """``GET /api/v1/namespaces/{namespace}/jobs/{job}/runs``."""

    runs: list[RunResponse]
    totalCount: int


class DatasetVersionResponse(BaseModel):
    """One version of a dataset, with the run that wrote it (if the caller may see it)."""

    id: DatasetVersionIdResponse
    type: str
    name: str
    physicalName: str
    createdAt: datetime
    version: str
    namespace: str
    sourceName: str
    fields: list[FieldResponse]
    tags: list[str]
    lifecycleState: str | None
    description: str | None
    createdByRun: RunResponse | None
    facets: dict[str, Any]


class DatasetVersionListResponse(BaseModel):
    """``GET /api/v1/namespaces/{namespace}/datasets/{dataset}/versions``."""

    versions: list[DatasetVersionResponse]
    totalCount: int


class JobResponse(BaseModel):
    """A job: the datasets its runs read and wrote, its latest runs, location and facets."""

    id: DatasetIdResponse
    type: str
    name: str
    simpleName: str
    parentJobName: str | None
    parentJobUuid: str | None
    createdAt: datetime
    updatedAt: datetime
    namespace: str
    inputs: list[DatasetIdResponse]
    outputs: list[DatasetIdResponse]
    location: str | None
    description: str | None
    latestRun: RunResponse | None
    latestRuns: list[RunResponse]
    facets: dict[str, Any]
    currentVersion: str | None
    labels: list[str]
    tags: list[str]


class JobListResponse(BaseModel):
    """``GET /api/v1/namespaces/{namespace}/jobs``."""

    jobs: list[JobResponse]
    totalCount: int


class LineageEventListResponse(BaseModel):
    """``GET /api/v1/events/lineage``: stored OpenLineage events, verbatim."""

    events: list[dict[str, Any]]
    totalCount: int


class SearchResultResponse(BaseModel):
    """A dataset or job whose name matched."""

    type: str
    name: str
    updatedAt: datetime
    namespace: str
    nodeId: str


class SearchResultListResponse(BaseModel):
    """``GET /api/v1/search``."""

    totalCount: int
    results: list[SearchResultResponse]


class ColumnEdgeResponse(BaseModel):
    """An edge between two field nodes."""

    origin: str
    destination: str


class InputFieldResponse(BaseModel):
    """A field an output field derives from."""

    namespace: str
    dataset: str
    datasetVersion: str | None
    field: str
    transformationDescription: str | None
    transformationType: str | None


class ColumnNodeDataResponse(BaseModel):
    """A field node's data: its dataset, type and input fields."""

    namespace: str
    dataset: str
    datasetVersion: str | None
    field: str
    fieldType: str | None
    transformationDescription: str | None
    transformationType: str | None
    inputFields: list[InputFieldResponse]


class ColumnNodeResponse(BaseModel):
    """A ``DATASET_FIELD`` node of the column lineage graph."""

    id: str
    type: str
    data: ColumnNodeDataResponse
    inEdges: list[ColumnEdgeResponse]
    outEdges: list[ColumnEdgeResponse]


class ColumnLineageResponse(BaseModel):
    """``GET /api/v1/column-lineage``."""

    graph: list[ColumnNodeResponse]
