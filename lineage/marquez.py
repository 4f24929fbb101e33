"""The Marquez-compatible read API's answers, built from the lineage database and redacted.

Owns how our graph reads in Marquez's shapes (namespaces, datasets, dataset versions, jobs, runs,
raw events, search) and the one redaction rule of that API: a caller sees only what its grants let
it read (``lineage.access.authorize``). Hidden objects are left out of every list, and addressing
one raises ``NotVisible``, answered exactly as a missing one's ``NotFound`` (so a 404 never says
whether it exists) and audited as a denied read. Datasets and their versions live in
``lineage.marquez_datasets``, raw events and search in ``lineage.marquez_events``, column
lineage in ``lineage.marquez_columns``. SQL is in ``lineage.db.marquez_sql``.

Where Marquez has facts we do not keep, the answer says what we know: namespaces have Marquez's
default owner ``anonymous`` (OpenLineage events carry none), every dataset is a ``DB_TABLE``,
versions are the producer's version strings (not UUIDs), and a run's job version is its job's
code version (``sourceCodeLocation.version``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from lineage.access import Principal, authorize
from lineage.db import marquez_sql
from lineage.db.models import Job, Run
from lineage.errors import NotFound, NotVisible
from lineage.facet_refs import visible_facets

DEFAULT_OWNER = "anonymous"  # what Marquez records for namespaces created by OpenLineage events
LATEST_RUNS = 10  # Marquez's ``latestRuns`` length
MILLISECOND = timedelta(milliseconds=1)
RUN_STATES = {"COMPLETE": "COMPLETED", "FAIL": "FAILED", "ABORT": "ABORTED"}  # else RUNNING


class Viewer:
    """The caller's view: which namespaces it may read (None: unrestricted, in-process use)."""

    def __init__(self, principal: Principal | None) -> None:
        self._principal = principal

    def sees(self, namespace: str) -> bool:
        """Whether the caller may read ``namespace``."""
        return self._principal is None or authorize(self._principal, "read", namespace)

    def sees_all(self, namespaces: Iterable[str]) -> bool:
        """Whether the caller may read every one of ``namespaces``."""
        return all(self.sees(ns) for ns in namespaces)

    def facets(self, facets: dict[str, Any]) -> dict[str, Any]:
        """``facets`` without the parent, column inputs and symlinks the caller may not read."""
        return facets if self._principal is None else visible_facets(facets, self.sees)

    def check(self, namespace: str, kind: str, key: str) -> None:
        """Raise ``NotVisible`` (answered as not found, audited as denied) outside the grants."""
        if self._principal is not None and not self.sees(namespace):
            name = self._principal.name
            raise NotVisible(kind=kind, key=key, principal=name, namespace=namespace)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _ids(refs: Iterable[tuple[str, str]], viewer: Viewer) -> list[dict[str, str]]:
    return [{"namespace": ns, "name": name} for ns, name in refs if viewer.sees(ns)]


# --- namespaces --------------------------------------------------------------------------------


def _namespace(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "ownerName": DEFAULT_OWNER,
        "description": None,
        "isHidden": False,
    }


def list_namespaces(
    session: Session, principal: Principal | None, *, limit: int, offset: int
) -> dict[str, Any]:
    """The namespaces the caller may read, by name: ``{"namespaces": [...], "totalCount"}``."""
    viewer = Viewer(principal)
    rows = [r for r in marquez_sql.namespace_rows(session) if viewer.sees(r.name)]
    page = rows[offset : offset + limit]
    return {"namespaces": [_namespace(r) for r in page], "totalCount": len(rows)}


def get_namespace(session: Session, principal: Principal | None, name: str) -> dict[str, Any]:
    """One namespace; ``NotFound`` when missing or hidden."""
    Viewer(principal).check(name, "namespace", name)
    for row in marquez_sql.namespace_rows(session):
        if row.name == name:
            return _namespace(row)
    raise NotFound(kind="namespace", key=name)


def _check_namespace(session: Session, viewer: Viewer, name: str) -> None:
    viewer.check(name, "namespace", name)
    if not any(row.name == name for row in marquez_sql.namespace_rows(session)):
        raise NotFound(kind="namespace", key=name)


# --- facets as text ----------------------------------------------------------------------------


def _facet(facets: dict[str, Any], name: str, key: str) -> str | None:
    """A facet's value as text (None when absent): answers hold text where Marquez does."""
    facet = facets.get(name)
    return text_of(facet.get(key)) if isinstance(facet, dict) else None


def text_of(value: Any) -> str | None:
    """``value`` as text, None staying None."""
    return None if value is None else str(value)


# --- jobs and runs -----------------------------------------------------------------------------


def _run(run: Run, job: Job, versions: Any, viewer: Viewer) -> dict[str, Any]:
    inputs, outputs = versions
    started, ended = run.started_at, run.ended_at
    return {
        "id": run.run_id,
        "createdAt": started or run.state_time,
        "updatedAt": run.state_time,
        "nominalStartTime": _facet(run.facets, "nominalTime", "nominalStartTime"),
        "nominalEndTime": _facet(run.facets, "nominalTime", "nominalEndTime"),
        "state": RUN_STATES.get(run.state, "RUNNING"),
        "startedAt": started,
        "endedAt": ended,
        "durationMs": (
            None if started is None or ended is None else (ended - started) // MILLISECOND
        ),
        "args": {},
        "jobVersion": {
            "namespace": job.namespace,
            "name": job.name,
            "version": _facet(run.job_facets, "sourceCodeLocation", "version"),
        },
        "inputDatasetVersions": _version_ids(inputs, viewer),
        "outputDatasetVersions": _version_ids(outputs, viewer),
        "context": {},
        "facets": viewer.facets(run.facets),
    }


def _version_ids(refs: list[marquez_sql.VersionRef], viewer: Viewer) -> list[dict[str, Any]]:
    return [
        {"datasetVersionId": {"namespace": ns, "name": name, "version": v}, "facets": {}}
        for ns, name, v, _ in refs
        if viewer.sees(ns)
    ]


def _runs(session: Session, viewer: Viewer, run_ids: set[str]) -> dict[str, dict[str, Any]]:
    """Marquez runs by id, for those the caller may see (a run's job decides)."""
    found = marquez_sql.runs_with_jobs(session, run_ids)
    visible = [(run, job) for run, job in found if viewer.sees(job.namespace)]
    versions = marquez_sql.run_versions(session, [run.run_id for run, _ in visible])
    return {run.run_id: _run(run, job, versions[run.run_id], viewer) for run, job in visible}


def _job(
    job: Job,
    io: tuple[list[tuple[str, str]], list[tuple[str, str]]],
    latest: list[dict[str, Any]],
    viewer: Viewer,
) -> dict[str, Any]:
    facets = job.facets
    return {
        "id": {"namespace": job.namespace, "name": job.name},
        "type": str(_facet(facets, "jobType", "processingType") or "BATCH"),
        "name": job.name,
        "simpleName": job.name,
        "parentJobName": None,
        "parentJobUuid": None,
        "createdAt": job.created_at,
        "updatedAt": job.updated_at,
        "namespace": job.namespace,
        "inputs": _ids(io[0], viewer),
        "outputs": _ids(io[1], viewer),
        "location": _facet(facets, "sourceCodeLocation", "url"),
        "description": _facet(facets, "documentation", "description"),
        "latestRun": latest[0] if latest else None,
        "latestRuns": latest,
        "facets": facets,
        "currentVersion": None,
        "labels": [],
        "tags": [],
    }


def _jobs(session: Session, viewer: Viewer, jobs: list[Job]) -> list[dict[str, Any]]:
    ids = [job.id for job in jobs]
    io = marquez_sql.job_datasets(session, ids)
    latest = marquez_sql.latest_runs(session, ids, LATEST_RUNS)
    versions = marquez_sql.run_versions(
        session, [run.run_id for runs in latest.values() for run in runs]
    )
    return [
        _job(
            job,
            io[job.id],
            [_run(run, job, versions[run.run_id], viewer) for run in latest.get(job.id, [])],
            viewer,
        )
        for job in jobs
    ]


def list_jobs(
    session: Session, principal: Principal | None, namespace: str, *, limit: int, offset: int
) -> dict[str, Any]:
    """The jobs of a namespace by name: ``{"jobs": [...], "totalCount"}``."""
    viewer = Viewer(principal)
    _check_namespace(session, viewer, namespace)
    rows, total = marquez_sql.jobs_page(session, namespace, limit=limit, offset=offset)
    return {"jobs": _jobs(session, viewer, rows), "totalCount": total}


def _find_job(session: Session, viewer: Viewer, namespace: str, name: str) -> Job:
    key = f"{namespace}:{name}"
    viewer.check(namespace, "job", key)
    job = marquez_sql.find_job(session, namespace, name)
    if job is None:
        raise NotFound(kind="job", key=key)
    return job


def get_job(
    session: Session, principal: Principal | None, namespace: str, name: str
) -> dict[str, Any]:
    """One job with the datasets its runs read and wrote and its latest runs."""
    viewer = Viewer(principal)
    return _jobs(session, viewer, [_find_job(session, viewer, namespace, name)])[0]


def list_job_runs(
    session: Session,
    principal: Principal | None,
    namespace: str,
    name: str,
    *,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """A job's runs, newest first: ``{"runs": [...], "totalCount"}``."""
    viewer = Viewer(principal)
    job = _find_job(session, viewer, namespace, name)
    runs, total = marquez_sql.runs_page(session, job.id, limit=limit, offset=offset)
    versions = marquez_sql.run_versions(session, [run.run_id for run in runs])
    return {
        "runs": [_run(run, job, versions[run.run_id], viewer) for run in runs],
        "totalCount": total,
    }


def get_run(session: Session, principal: Principal | None, run_id: str) -> dict[str, Any]:
    """One run: state, times, dataset versions and facets; ``NotFound`` if missing or hidden."""
    viewer = Viewer(principal)
    found = _runs(session, viewer, {run_id}).get(run_id)
    if found is None:
        for _, job in marquez_sql.runs_with_jobs(session, {run_id}):  # there, but hidden
            viewer.check(job.namespace, "run", run_id)
        raise NotFound(kind="run", key=run_id)
    return found
