"""Request and response models of the lineage API (``...Request`` / ``...Response``).

Request models forbid unknown fields (no mass assignment); OpenLineage events are the exception
and are validated by ``lineage.events``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat
from typing_extensions import TypedDict  # pydantic's own dependency; it needs this one before 3.12

from lineage.events import NAME_MAX
from lineage.token_admin import GRANTS_MAX, PRINCIPAL_MAX

# What ``lineage.nodes.resolve_node`` and ``lineage.identity`` accept, for the OpenAPI schema.
NODE_ID_PATTERN = r"^(dataset|datasetVersion|job|model|run):[\s\S]"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body: a reason code, a message, and facts where they exist.

    ``field`` names the failing input (``body``, ``query.until``, ``run.runId``); ``requestId``
    is the id a 500 is logged under.
    """

    code: str
    detail: str
    field: str | None = None
    request_id: str | None = Field(default=None, alias="requestId")


class IngestResponse(BaseModel):
    """Outcome of ``POST /api/v1/lineage``; a duplicate is accepted and changes nothing."""

    status: Literal["created", "duplicate"]
    eventHash: str  # noqa: N815 (OpenLineage/Marquez JSON casing)
    runId: str | None = None  # noqa: N815


# A TypedDict, not a model: a graph answer holds up to thousands of edges, and validating them into
# plain dicts takes a third less time and leaves far fewer objects for the garbage collector than a
# model instance each, for the same JSON and the same OpenAPI schema (the docstring is the schema's
# description, hence this comment).
class EdgeResponse(TypedDict):
    """A directed edge between two node ids."""

    origin: str
    destination: str


class NodeResponse(BaseModel):
    """A graph node in Marquez's shape; ``REDACTED`` nodes carry no data."""

    id: str
    type: str
    data: dict[str, Any] | None = None
    inEdges: list[EdgeResponse]  # noqa: N815
    outEdges: list[EdgeResponse]  # noqa: N815


class GraphResponse(BaseModel):
    """``GET /api/v1/lineage`` answer."""

    graph: list[NodeResponse]
    truncated: bool


class ProvenanceResponse(BaseModel):
    """What exactly trained a model version."""

    model: str
    version: str
    namespace: str
    metrics: dict[str, float]
    codeVersion: str | None  # noqa: N815
    trainingSetVersion: str  # noqa: N815
    trainingSet: dict[str, Any] | None  # noqa: N815
    datasetVersions: list[dict[str, Any]]  # noqa: N815
    runs: list[dict[str, Any]]
    truncated: bool


class ImpactResponse(BaseModel):
    """What is downstream of a dataset version."""

    namespace: str
    dataset: str
    version: str
    datasetVersions: list[dict[str, Any]]  # noqa: N815
    runs: list[dict[str, Any]]
    trainingSets: list[dict[str, Any]]  # noqa: N815
    modelVersions: list[dict[str, Any]]  # noqa: N815
    servingDeployments: list[dict[str, Any]]  # noqa: N815
    truncated: bool


class ModelRequest(_Strict):
    """Register a model version against a training-set version lineage holds.

    ``namespace`` defaults to the stored model's (the default namespace for a new one) and must
    match it; ``trainingSet`` (``dataset:<ns>:training_set/<name>``) picks the training set when
    several have ``trainingSetVersion``.
    """

    name: str = Field(min_length=1, max_length=400, pattern=r"^[^/]+$")  # registry's rule
    version: str = Field(min_length=1, max_length=200, pattern=r"^[^:/]+$")
    trainingSetVersion: str = Field(min_length=1, max_length=200)  # noqa: N815
    trainingSet: str | None = Field(default=None, min_length=1, max_length=2000)  # noqa: N815
    metrics: dict[str, FiniteFloat] = Field(default_factory=dict)  # JSON has no NaN
    namespace: str | None = Field(default=None, min_length=1, max_length=400)
    codeVersion: str | None = Field(default=None, min_length=1, max_length=200)  # noqa: N815


class ModelResponse(BaseModel):
    """A registered model version and the training-set version it is linked to."""

    name: str
    version: str
    namespace: str
    trainingSetVersion: str  # noqa: N815
    trainingSet: str | None  # noqa: N815 (the training-set version's node id)


class TokenCreateRequest(_Strict):
    """Create a token for a principal."""

    # The limits ``token_admin.create_token`` enforces for the CLI too, stated for clients.
    principal: str = Field(min_length=1, max_length=PRINCIPAL_MAX, pattern=r"\S")
    role: Literal["admin", "producer", "consumer", "auditor"]
    namespaces: list[Annotated[str, Field(min_length=1, max_length=NAME_MAX, pattern=r"\S")]] = (
        Field(default_factory=list, max_length=GRANTS_MAX)
    )


class TokenCreateResponse(BaseModel):
    """The plain token, shown exactly once."""

    principal: str
    role: str
    namespaces: list[str]
    token: str


class TokenInfoResponse(BaseModel):
    """A token as listed to admins (never the token itself)."""

    id: int
    principal: str
    role: str
    namespaces: list[str]
    createdAt: datetime  # noqa: N815
    revokedAt: datetime | None  # noqa: N815


class AuditEntryResponse(BaseModel):
    """One audit log entry."""

    id: int
    ts: datetime
    principal: str
    action: str
    object: str
    allowed: bool
    sourceAddress: str  # noqa: N815
    hash: str


class AuditResponse(BaseModel):
    """A page of audit entries, newest first."""

    entries: list[AuditEntryResponse]


class HealthResponse(BaseModel):
    """Liveness and database reachability (503 with ``unavailable`` when it does not answer)."""

    status: Literal["ok", "unavailable"]
    database: bool


class UsageResponse(BaseModel):
    """Which model versions consume a feature view, which deployments serve it, unused fields."""

    view: str
    namespace: str
    fields: list[str]
    modelVersions: list[dict[str, Any]]  # noqa: N815
    deployments: list[dict[str, Any]]
    trainingSets: list[dict[str, Any]]  # noqa: N815
    unusedFields: list[str]  # noqa: N815


class ReadsResponse(BaseModel):
    """Who read a feature view, and when: runs from lineage and feature reads from the audit log."""

    view: str
    namespace: str
    runs: list[dict[str, Any]]
    runsTotal: int  # noqa: N815
    accesses: list[AuditEntryResponse]
    limit: int
    offset: int


class HistoryResponse(BaseModel):
    """A page of a node's history, newest first."""

    nodeId: str  # noqa: N815
    type: str
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


class DeploymentRequest(_Strict):
    """Record that a model version is deployed, reading online features from a feature service."""

    model: str = Field(min_length=1, max_length=400)
    version: str = Field(min_length=1, max_length=200)
    featureService: str = Field(min_length=1, max_length=400)  # noqa: N815
    environment: str = Field(min_length=1, max_length=200)


class DeploymentResponse(BaseModel):
    """A recorded deployment."""

    model: str
    version: str
    featureService: str  # noqa: N815
    environment: str
