"""The Marquez-compatible API's datasets and dataset versions, built and redacted.

Split from ``lineage.marquez`` (namespaces, jobs, runs and the ``Viewer`` redaction rule live
there): a dataset's Marquez shape, its versions and the run that created each, for the caller's
grants only; a hidden dataset raises ``NotVisible``, worded as a missing one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lineage.access import Principal
from lineage.db import history_sql, marquez_sql
from lineage.db.models import Dataset, DatasetVersion
from lineage.errors import NotFound
from lineage.marquez import Viewer, _check_namespace, _facet, _runs, text_of


def schema_fields(facets: dict[str, Any]) -> list[dict[str, Any]]:
    """The named fields of a ``schema`` facet among ``facets`` (none when it has no such list)."""
    schema = facets.get("schema")
    listed = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(listed, list):
        return []
    return [f for f in listed if isinstance(f, dict) and f.get("name") is not None]


def _fields(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "name": str(f.get("name")),
            "type": text_of(f.get("type")),
            "tags": [],
            "description": text_of(f.get("description")),
        }
        for f in listed
    ]


def _source(namespace: str, facets: dict[str, Any]) -> str:
    return str(_facet(facets, "dataSource", "name") or namespace)


def _dataset(ds: Dataset, current: DatasetVersion | None, viewer: Viewer) -> dict[str, Any]:
    facets = viewer.facets(ds.facets)
    return {
        "id": {"namespace": ds.namespace, "name": ds.name},
        "type": "DB_TABLE",
        "name": ds.name,
        "physicalName": ds.name,
        "createdAt": ds.created_at,
        "updatedAt": ds.updated_at,
        "namespace": ds.namespace,
        "sourceName": _source(ds.namespace, facets),
        "fields": _fields(schema_fields(facets)),
        "tags": [],
        "lastModifiedAt": None if current is None else current.created_at,
        "lastLifecycleState": _facet(facets, "lifecycleStateChange", "lifecycleStateChange"),
        "description": _facet(facets, "documentation", "description"),
        "currentVersion": None if current is None else current.version,
        "facets": facets,
        "deleted": False,
    }


def list_datasets(
    session: Session, principal: Principal | None, namespace: str, *, limit: int, offset: int
) -> dict[str, Any]:
    """The datasets of a namespace by name: ``{"datasets": [...], "totalCount"}``."""
    viewer = Viewer(principal)
    _check_namespace(session, viewer, namespace)
    rows, total = marquez_sql.datasets_page(session, namespace, limit=limit, offset=offset)
    current = marquez_sql.current_versions(session, [ds.id for ds in rows])
    datasets = [_dataset(ds, current.get(ds.id), viewer) for ds in rows]
    return {"datasets": datasets, "totalCount": total}


def _find_dataset(session: Session, viewer: Viewer, namespace: str, name: str) -> Dataset:
    key = f"{namespace}:{name}"
    viewer.check(namespace, "dataset", key)
    ds = history_sql.find_dataset(session, namespace, name)
    if ds is None:
        raise NotFound(kind="dataset", key=key)
    viewer.check(ds.namespace, "dataset", key)  # a symlink's dataset may live elsewhere
    return ds


def get_dataset(
    session: Session, principal: Principal | None, namespace: str, name: str
) -> dict[str, Any]:
    """One dataset with its current schema, version and facets; ``NotFound`` if missing/hidden."""
    viewer = Viewer(principal)
    ds = _find_dataset(session, viewer, namespace, name)
    return _dataset(ds, marquez_sql.current_versions(session, [ds.id]).get(ds.id), viewer)


def list_dataset_versions(
    session: Session,
    principal: Principal | None,
    namespace: str,
    name: str,
    *,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """A dataset's versions, newest first, each with the run that wrote it (if visible)."""
    viewer = Viewer(principal)
    ds = _find_dataset(session, viewer, namespace, name)
    versions, total = history_sql.versions_of_dataset(session, ds.id, limit=limit, offset=offset)
    writers = marquez_sql.writer_runs(session, [dv.id for dv in versions])
    runs = _runs(session, viewer, set(writers.values()))
    return {
        "versions": [_version(ds, dv, runs.get(writers.get(dv.id, "")), viewer) for dv in versions],
        "totalCount": total,
    }


def get_dataset_version(
    session: Session, principal: Principal | None, namespace: str, name: str, version: str
) -> dict[str, Any]:
    """One version of a dataset, with the run that wrote it; ``NotFound`` if missing/hidden."""
    viewer = Viewer(principal)
    ds = _find_dataset(session, viewer, namespace, name)
    dv = history_sql.version_of_dataset(session, ds.id, version)
    if dv is None:
        raise NotFound(kind="dataset_version", key=f"{namespace}:{name}#{version}")
    writer = marquez_sql.writer_runs(session, [dv.id]).get(dv.id)
    runs = _runs(session, viewer, {writer} if writer else set())
    return _version(ds, dv, runs.get(writer or ""), viewer)


def _version(
    ds: Dataset, dv: DatasetVersion, run: dict[str, Any] | None, viewer: Viewer
) -> dict[str, Any]:
    facets = viewer.facets(dv.facets)
    return {
        "id": {"namespace": ds.namespace, "name": ds.name, "version": dv.version},
        "type": "DB_TABLE",
        "name": ds.name,
        "physicalName": ds.name,
        "createdAt": dv.created_at,
        "version": dv.version,
        "namespace": ds.namespace,
        "sourceName": _source(ds.namespace, facets),
        "fields": _fields(schema_fields({"schema": dv.schema_fields})),
        "tags": [],
        "lifecycleState": _facet(facets, "lifecycleStateChange", "lifecycleStateChange"),
        "description": _facet(facets, "documentation", "description"),
        "createdByRun": run,
        "facets": facets,
    }
