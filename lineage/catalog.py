"""The console's catalog in one answer: a namespace's feature services and views with their data.

Per batch feature view: the view's dataset (definition facets: owner, ttl, entities, fields'
PII), its source's offline dataset (contract assertions) with the newest version and the run
that wrote it (received / written / quarantined), and its online dataset (freshness assertion).
Per feature service: its dataset and the latest drift audit of what it served. Every part comes
from the Marquez-shaped answers (``lineage.marquez``), so redaction is theirs: a namespace the
caller may not read is ``NotFound``. One request instead of four per view keeps a catalog page
to one audited call however many views there are (up to ``limit`` of each kind).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from lineage import marquez, marquez_datasets
from lineage.access import Principal
from lineage.db import history_sql, marquez_sql
from lineage.errors import NotFound

VIEW, SERVICE = "feature_view/", "feature_service/"


def _names(session: Session, namespace: str, prefix: str, kind: str, limit: int) -> list[str]:
    """Names starting with ``prefix`` (LIKE's ``_`` matches any character: checked again)."""
    rows, _ = marquez_sql.search_page(
        session,
        f"{prefix}%",
        kinds=(kind,),
        namespaces=[namespace],
        updated_from=None,
        updated_until=None,
        by_time=False,
        limit=limit,
        offset=0,
    )
    return [r.name for r in rows if r.name.startswith(prefix)]


def _dataset_if_any(
    session: Session, principal: Principal | None, namespace: str, name: str
) -> dict[str, Any] | None:
    if history_sql.find_dataset(session, namespace, name) is None:
        return None
    return marquez_datasets.get_dataset(session, principal, namespace, name)


def _drift_by_served(
    session: Session, principal: Principal | None, namespace: str, limit: int
) -> dict[str, dict[str, Any]]:
    """The latest drift audit per served log it read: ``{served dataset: {facet, endedAt}}``."""
    out: dict[str, dict[str, Any]] = {}
    for name in _names(session, namespace, "audit_drift.", "JOB", limit):
        job = marquez.get_job(session, principal, namespace, name)
        run = job.get("latestRun") or {}
        facet = (run.get("facets") or {}).get("skewless_drift")
        if not facet:
            continue
        for dataset in job.get("inputs", []):
            out[dataset["name"]] = {"facet": facet, "endedAt": run.get("endedAt")}
    return out


def catalog(
    session: Session, principal: Principal | None, namespace: str, *, limit: int
) -> dict[str, Any]:
    """Feature services and views of ``namespace`` (up to ``limit`` each) with their data."""
    marquez.Viewer(principal).check(namespace, "namespace", namespace)
    if not any(r.name == namespace for r in marquez_sql.namespace_rows(session)):
        raise NotFound(kind="namespace", key=namespace)
    drift = _drift_by_served(session, principal, namespace, limit)
    services = []
    for name in _names(session, namespace, SERVICE, "DATASET", limit):
        served = "served/" + name.removeprefix(SERVICE)
        services.append(
            {
                "dataset": marquez_datasets.get_dataset(session, principal, namespace, name),
                "drift": drift.get(served),
            }
        )
    views = []
    for name in _names(session, namespace, VIEW, "DATASET", limit):
        dataset = marquez_datasets.get_dataset(session, principal, namespace, name)
        definition = dataset["facets"].get("skewless_definition") or {}
        source = definition.get("source")
        offline = None
        if source:
            offline = _dataset_if_any(session, principal, namespace, f"offline/{source}")
        latest = None
        if offline is not None and offline["currentVersion"]:
            versions = marquez_datasets.list_dataset_versions(
                session, principal, namespace, offline["name"], limit=1, offset=0
            )["versions"]
            latest = versions[0] if versions else None
        online_name = "online/" + name.removeprefix(VIEW)
        online = _dataset_if_any(session, principal, namespace, online_name)
        views.append({"dataset": dataset, "offline": offline, "latest": latest, "online": online})
    return {"namespace": namespace, "services": services, "views": views, "limit": limit}
