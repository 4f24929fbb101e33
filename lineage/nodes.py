"""Nodes of the lineage graph as every read shows them: ids, descriptions and redaction.

Owns the public node ids (``dataset:ns:name``, ``datasetVersion:ns:name#v``, ``run:<uuid>``, ...),
resolving an id to its database key, the ``data`` each node kind carries, and the placeholders
that replace nodes outside the caller's grants. The graph traversal (``lineage.queries``),
provenance and impact (``lineage.provenance``) and the usage pages (``lineage.usage``) share them.

Descriptions take anything with the named attributes (ORM objects or column rows); a dataset's
and a job's come from the column rows of ``repositories``, which take the few facet values a node
shows out of the facets in SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Row
from sqlalchemy.orm import Session

from lineage.access import Principal, authorize
from lineage.db import repositories as repo
from lineage.db.models import Dataset, Job
from lineage.errors import InvalidQuery, NotFound, NotVisible
from lineage.rules import CODE_FACETS

Node = tuple[str, Any]  # (type, database key)
NODE_TYPES = {
    "dataset": "DATASET",
    "job": "JOB",
    "datasetVersion": "DATASET_VERSION",
    "run": "RUN",
    "model": "MODEL",
}


@dataclass
class Redactor:
    """Replaces ids of unreadable objects by stable per-response placeholders."""

    principal: Principal | None
    ids: dict[str, str] = field(default_factory=dict)

    def visible(self, namespace: str) -> bool:
        """Return whether the caller may read ``namespace`` (always, without a principal)."""
        return self.principal is None or authorize(self.principal, "read", namespace)

    def placeholder(self, real_id: str) -> str:
        """Return ``redacted:<n>`` for ``real_id``, the same one each time within a response."""
        return self.ids.setdefault(real_id, f"redacted:{len(self.ids) + 1}")

    def redacted(self, real_id: str) -> dict[str, Any]:
        """The item that stands for a hidden object in a list: ``{"id", "type": "REDACTED"}``."""
        return {"id": self.placeholder(real_id), "type": "REDACTED"}

    def require(self, namespace: str, *, kind: str, key: str) -> None:
        """Raise ``NotVisible`` unless the caller may read ``namespace``.

        ``kind`` and ``key`` are those the caller's ``NotFound`` would carry for the object it
        addressed, so that a hidden object and a missing one get the same answer.
        """
        if self.principal is not None and not self.visible(namespace):
            raise NotVisible(kind=kind, key=key, principal=self.principal.name, namespace=namespace)


def _splits(text: str) -> list[tuple[str, str]]:
    return [(text[:i], text[i + 1 :]) for i, ch in enumerate(text) if ch == ":"]


def resolve_node(session: Session, node_id: str) -> Node:
    """Resolve a node id to its database key.

    Ids: ``dataset:ns:name``, ``job:ns:name``, ``datasetVersion:ns:name#v``, ``run:<uuid>``,
    ``model:name:version``. A namespace may itself contain ``:`` (URIs); every split is tried.

    Raises:
        InvalidQuery: for a malformed id. NotFound: for an unknown node.

    """
    return _resolved(session, node_id)[0]


def _resolved(
    session: Session, node_id: str, sees: Callable[[str], bool] | None = None
) -> tuple[Node, str | None]:
    """``resolve_node``, with the node's namespace where finding it read it (datasets, jobs).

    With ``sees``, only the ``namespace:name`` splits in namespaces it accepts are tried, so a
    hidden object whose split collides with a readable one's can neither shadow it nor, by
    shadowing it, tell the caller that it exists.
    """
    namespace: str | None = None

    def splits(text: str) -> list[tuple[str, str]]:
        return [(ns, name) for ns, name in _splits(text) if sees is None or sees(ns)]

    kind, sep, rest = node_id.partition(":")
    if not sep or kind not in NODE_TYPES or not rest:
        raise InvalidQuery(field="nodeId", reason=f"must start with one of {sorted(NODE_TYPES)}")
    found: Node | None = None
    if kind in ("dataset", "job"):
        model = Dataset if kind == "dataset" else Job
        row = repo.find_by_split_candidates(session, model, splits(rest))
        if row is not None:
            found, namespace = (kind, row.id), row.namespace
    elif kind == "datasetVersion":
        name_part, _, version = rest.rpartition("#")
        for ns, name in splits(name_part):
            dv = repo.find_dataset_version(session, ns, name, version)
            if dv is not None:
                found = (kind, dv.id)
                break
    elif kind == "model":
        name, _, version = rest.rpartition(":")
        mv = repo.find_model_version(session, name, version)
        found = None if mv is None else (kind, mv.id)
    else:
        run_id = rest.lower()  # stored as intake normalized it; UUIDs ignore case
        runs = repo.runs_by_ids(session, [run_id])
        found = (kind, run_id) if run_id in runs else None
    if found is None:
        raise NotFound(kind="node", key=node_id)
    return found, namespace


def namespace_of(session: Session, node: Node) -> str:
    """Return the namespace governing a resolved node (a run's and a version's: their owner's)."""
    kind, key = node
    if kind == "dataset":
        return str(repo.datasets_by_ids(session, [key])[key].namespace)
    if kind == "job":
        return str(repo.jobs_by_ids(session, [key])[key].namespace)
    if kind == "datasetVersion":
        return str(repo.dataset_versions_by_ids(session, [key])[key].namespace)
    if kind == "run":
        return str(repo.runs_by_ids(session, [key])[key].namespace)
    return str(repo.model_versions_by_ids(session, [key])[key][1].namespace)


def resolve_visible(session: Session, node_id: str, red: Redactor) -> Node:
    """Resolve a node id the caller may read; one outside its grants is not found either.

    Raises:
        InvalidQuery: for a malformed id. NotFound: for an unknown node, and (as its subclass
        ``NotVisible``, with the same wording) for one outside the caller's grants.

    """
    try:  # a readable node first: a hidden one whose id collides must not shadow it
        node, namespace = _resolved(session, node_id, red.visible)
    except NotFound:  # a hidden node is NotVisible (audited as denied), worded as not found
        node, namespace = _resolved(session, node_id)
    red.require(namespace or namespace_of(session, node), kind="node", key=node_id)
    return node


class Named(Protocol):
    """A dataset or job: identified by namespace and name."""

    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...


class DatasetLike(Named, Protocol):
    """A dataset with its current schema fields (None: no schema facet) and last update."""

    @property
    def fields(self) -> list[Any] | None: ...
    @property
    def updated_at(self) -> datetime: ...


class VersionLike(Protocol):
    """One dataset version."""

    @property
    def version(self) -> str: ...
    @property
    def version_source(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def facets(self) -> dict[str, Any]: ...


class RunLike(Protocol):
    """One run of a job."""

    @property
    def run_id(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def job_facets(self) -> dict[str, Any]: ...


def dataset_id(ds: Named) -> str:
    """Return the public id of a dataset."""
    return f"dataset:{ds.namespace}:{ds.name}"


def job_id(job: Named) -> str:
    """Return the public id of a job."""
    return f"job:{job.namespace}:{job.name}"


def version_id(dv: VersionLike, ds: Named) -> str:
    """Return the public id of a dataset version."""
    return f"datasetVersion:{ds.namespace}:{ds.name}#{dv.version}"


def dataset_data(ds: DatasetLike) -> dict[str, Any]:
    """Describe a dataset: its current schema fields and last update."""
    return {
        "namespace": ds.namespace,
        "name": ds.name,
        "fields": [] if ds.fields is None else ds.fields,
        "updatedAt": ds.updated_at.isoformat(),
    }


def job_data(job: Row[Any]) -> dict[str, Any]:
    """Describe a job row (``repositories.jobs_by_ids``): code version and last update."""
    return {
        "namespace": job.namespace,
        "name": job.name,
        **{key: getattr(job, key) for key in CODE_FACETS},
        "updatedAt": job.updated_at.isoformat(),
    }


def code_version(job_facets: dict[str, Any]) -> dict[str, Any]:
    """Extract the code version and location from a job's facets (see ``CODE_FACETS``)."""
    return {
        key: (job_facets.get(facet) or {}).get(name) for key, (facet, name) in CODE_FACETS.items()
    }


def version_data(dv: VersionLike, ds: Named) -> dict[str, Any]:
    """Describe a dataset version without leaking opaque facets."""
    stats = dv.facets.get("outputStatistics") or {}
    assertions = (dv.facets.get("dataQualityAssertions") or {}).get("assertions") or []
    return {
        "namespace": ds.namespace,
        "name": ds.name,
        "version": dv.version,
        "versionSource": dv.version_source,
        "createdAt": dv.created_at.isoformat(),
        "rowCount": stats.get("rowCount"),
        "failedAssertions": [a for a in assertions if isinstance(a, dict) and not a.get("success")],
    }


def run_data(run: RunLike, job: Named) -> dict[str, Any]:
    """Describe a run: state, times, job and code version."""
    return {
        "runId": run.run_id,
        "job": {"namespace": job.namespace, "name": job.name},
        "state": run.state,
        "startedAt": run.started_at.isoformat() if run.started_at else None,
        "endedAt": run.ended_at.isoformat() if run.ended_at else None,
        **code_version(run.job_facets),
    }


def deployment_data(dep: Any, mv: Any, model: Named) -> dict[str, Any]:
    """Describe a deployment: which model version serves where, from which feature service."""
    return {
        "model": model.name,
        "version": mv.version,
        "environment": dep.environment,
        "featureService": dep.feature_service,
    }
