"""SQL of the Marquez-compatible read API: namespaces, paged datasets, jobs, runs, events, search.

Functions take a ``Session`` and plain values (``namespaces``: the namespaces the caller may
read, already decided by ``lineage.access``; None: every one) and return ORM rows or column rows,
and totals for pages; callers own the transaction. Lists are sorted by name (datasets, jobs) or
newest first (versions, runs, events), with the id as the tie-breaker so pages never overlap.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from lineage.db.models import (
    Dataset,
    DatasetVersion,
    Job,
    JobRunEdge,
    LineageEvent,
    Run,
    RunInput,
    RunOutput,
)

VersionRef = tuple[str, str, str, dict[str, Any]]  # (namespace, name, version, facets)


def _page(session: Session, stmt: Any, limit: int, offset: int) -> tuple[list[Any], int]:
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    return list(session.execute(stmt.limit(limit).offset(offset))), total


def namespace_rows(session: Session) -> list[Row[Any]]:
    """Every namespace a dataset or job lives in: (name, created_at, updated_at), by name."""
    both = union_all(
        select(Dataset.namespace, Dataset.created_at, Dataset.updated_at),
        select(Job.namespace, Job.created_at, Job.updated_at),
    ).subquery()
    stmt = (
        select(
            both.c.namespace.label("name"),
            func.min(both.c.created_at).label("created_at"),
            func.max(both.c.updated_at).label("updated_at"),
        )
        .group_by(both.c.namespace)
        .order_by(both.c.namespace)
    )
    return list(session.execute(stmt))


def datasets_page(
    session: Session, namespace: str, *, limit: int, offset: int
) -> tuple[list[Dataset], int]:
    """The datasets of a namespace by name, and how many there are."""
    stmt = select(Dataset).where(Dataset.namespace == namespace).order_by(Dataset.name, Dataset.id)
    rows, total = _page(session, stmt, limit, offset)
    return [r[0] for r in rows], total


def jobs_page(
    session: Session, namespace: str, *, limit: int, offset: int
) -> tuple[list[Job], int]:
    """The jobs of a namespace by name, and how many there are."""
    stmt = select(Job).where(Job.namespace == namespace).order_by(Job.name, Job.id)
    rows, total = _page(session, stmt, limit, offset)
    return [r[0] for r in rows], total


def find_job(session: Session, namespace: str, name: str) -> Job | None:
    """Job ``namespace``/``name``, if stored."""
    return session.scalars(select(Job).where(Job.namespace == namespace, Job.name == name)).first()


def newest_first(rank: Any) -> Any:
    """``rank`` (a window function) over each dataset's versions, newest first, as ``rank``.

    Newest is by creation (the event time that made the version), then id: the one order of
    versions everywhere (``/versions``, ``currentVersion``, column lineage).
    """
    return rank.over(
        partition_by=DatasetVersion.dataset_id,
        order_by=(DatasetVersion.created_at.desc(), DatasetVersion.id.desc()),
    ).label("rank")


def current_versions(session: Session, dataset_ids: Collection[int]) -> dict[int, DatasetVersion]:
    """The newest version of each dataset (by creation, then id), keyed by dataset id.

    Creation is the event time that made the version, not its arrival: a backfill's older
    version that arrives last does not become current (``/versions`` lists by the same order).
    """
    if not dataset_ids:
        return {}
    ranked = (
        select(DatasetVersion.id, newest_first(func.row_number()))
        .where(DatasetVersion.dataset_id.in_(dataset_ids))
        .subquery()
    )
    stmt = (
        select(DatasetVersion)
        .join(ranked, ranked.c.id == DatasetVersion.id)
        .where(ranked.c.rank == 1)
    )
    return {dv.dataset_id: dv for dv in session.scalars(stmt)}


def writer_runs(session: Session, version_ids: Collection[int]) -> dict[int, str]:
    """The run that wrote each dataset version (the first one, by run time, when several did)."""
    if not version_ids:
        return {}
    rank = (
        func.row_number()
        .over(
            partition_by=RunOutput.dataset_version_id,
            order_by=(_run_time(), Run.run_id),
        )
        .label("rank")
    )
    ranked = (
        select(RunOutput.dataset_version_id, RunOutput.run_id, rank)
        .join(Run, Run.run_id == RunOutput.run_id)
        .where(RunOutput.dataset_version_id.in_(version_ids))
        .subquery()
    )
    stmt = select(ranked.c.dataset_version_id, ranked.c.run_id).where(ranked.c.rank == 1)
    return {dv_id: run_id for dv_id, run_id in session.execute(stmt)}


def job_datasets(
    session: Session, job_ids: Collection[int]
) -> dict[int, tuple[list[tuple[str, str]], list[tuple[str, str]]]]:
    """The datasets each job's runs read and wrote, sorted: {job id: (inputs, outputs)}."""
    out: dict[int, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
        i: ([], []) for i in job_ids
    }
    if not job_ids:
        return out
    stmt = (
        select(JobRunEdge.job_id, JobRunEdge.direction, Dataset.namespace, Dataset.name)
        .join(Dataset, Dataset.id == JobRunEdge.dataset_id)
        .where(JobRunEdge.job_id.in_(job_ids))
        .order_by(JobRunEdge.job_id, Dataset.namespace, Dataset.name)
    )
    for job_id, direction, namespace, name in session.execute(stmt):
        out[job_id][0 if direction == "in" else 1].append((namespace, name))
    return out


def _run_time() -> Any:
    return func.coalesce(Run.started_at, Run.state_time)


def latest_runs(session: Session, job_ids: Collection[int], per_job: int) -> dict[int, list[Run]]:
    """Each job's newest ``per_job`` runs, newest first, keyed by job id."""
    if not job_ids:
        return {}
    rank = (
        func.row_number()
        .over(partition_by=Run.job_id, order_by=(_run_time().desc(), Run.run_id.desc()))
        .label("rank")
    )
    ranked = select(Run.run_id, rank).where(Run.job_id.in_(job_ids)).subquery()
    stmt = (
        select(Run)
        .join(ranked, ranked.c.run_id == Run.run_id)
        .where(ranked.c.rank <= per_job)
        .order_by(Run.job_id, ranked.c.rank)
    )
    out: dict[int, list[Run]] = defaultdict(list)
    for run in session.scalars(stmt):
        out[run.job_id].append(run)
    return out


def runs_page(session: Session, job_id: int, *, limit: int, offset: int) -> tuple[list[Run], int]:
    """A job's runs, newest first, and how many there are."""
    stmt = select(Run).where(Run.job_id == job_id).order_by(_run_time().desc(), Run.run_id.desc())
    rows, total = _page(session, stmt, limit, offset)
    return [r[0] for r in rows], total


def runs_with_jobs(session: Session, run_ids: Collection[str]) -> list[tuple[Run, Job]]:
    """The stored runs among ``run_ids``, each with its job, by run id."""
    if not run_ids:
        return []
    stmt = (
        select(Run, Job)
        .join(Job, Job.id == Run.job_id)
        .where(Run.run_id.in_(run_ids))
        .order_by(Run.run_id)
    )
    return [(run, job) for run, job in session.execute(stmt)]


def run_versions(
    session: Session, run_ids: Collection[str]
) -> dict[str, tuple[list[VersionRef], list[VersionRef]]]:
    """The dataset versions each run read and wrote: {run id: (inputs, outputs)}, each sorted."""
    out: dict[str, tuple[list[VersionRef], list[VersionRef]]] = {r: ([], []) for r in run_ids}
    if not run_ids:
        return out
    for side, edge in ((0, RunInput), (1, RunOutput)):
        stmt = (
            select(
                edge.run_id,
                Dataset.namespace,
                Dataset.name,
                DatasetVersion.version,
                DatasetVersion.facets,
            )
            .join(DatasetVersion, DatasetVersion.id == edge.dataset_version_id)
            .join(Dataset, Dataset.id == edge.dataset_id)
            .where(edge.run_id.in_(run_ids))
            .order_by(edge.run_id, Dataset.namespace, Dataset.name, DatasetVersion.version)
        )
        for run_id, namespace, name, version, facets in session.execute(stmt):
            out[run_id][side].append((namespace, name, version, facets))
    return out


def events_page(
    session: Session,
    *,
    before: datetime | None,
    after: datetime | None,
    ascending: bool,
    limit: int,
    offset: int,
) -> tuple[list[LineageEvent], int]:
    """Stored events with ``after < eventTime < before``, by event time, and how many there are."""
    rows, total = _page(session, _events(before, after, ascending), limit, offset)
    return [r[0] for r in rows], total


def _events(before: datetime | None, after: datetime | None, ascending: bool) -> Any:
    stmt = select(LineageEvent)
    if before is not None:
        stmt = stmt.where(LineageEvent.event_time < before)
    if after is not None:
        stmt = stmt.where(LineageEvent.event_time > after)
    order = (LineageEvent.event_time, LineageEvent.id)
    return stmt.order_by(*(c.asc() if ascending else c.desc() for c in order))


def search_page(
    session: Session,
    pattern: str,
    *,
    kinds: Collection[str],
    namespaces: Collection[str] | None,
    updated_from: datetime | None,
    updated_until: datetime | None,
    by_time: bool,
    limit: int,
    offset: int,
) -> tuple[list[Row[Any]], int]:
    """Datasets and jobs whose name matches ``pattern`` (SQL LIKE, any case), and how many match.

    Rows are (type, namespace, name, updated_at), by name (newest first with ``by_time``).
    """
    parts = []
    for kind, model in (("DATASET", Dataset), ("JOB", Job)):
        if kind not in kinds:
            continue
        stmt = select(
            literal(kind).label("type"),
            model.namespace.label("namespace"),
            model.name.label("name"),
            model.updated_at.label("updated_at"),
        ).where(model.name.ilike(pattern))
        if namespaces is not None:
            stmt = stmt.where(model.namespace.in_(namespaces))
        if updated_from is not None:
            stmt = stmt.where(model.updated_at >= updated_from)
        if updated_until is not None:
            stmt = stmt.where(model.updated_at < updated_until)
        parts.append(stmt)
    if not parts:
        return [], 0
    both = union_all(*parts).subquery()
    order: list[Any] = [both.c.name, both.c.namespace, both.c.type]
    if by_time:
        order.insert(0, both.c.updated_at.desc())
    rows, total = _page(session, select(both).order_by(*order), limit, offset)
    return rows, total


def datasets_named(session: Session, pairs: Collection[tuple[str, str]]) -> dict[Any, Dataset]:
    """The stored datasets among (namespace, name) ``pairs``, keyed by that pair."""
    if not pairs:
        return {}
    cond = or_(*(and_(Dataset.namespace == ns, Dataset.name == name) for ns, name in pairs))
    return {(ds.namespace, ds.name): ds for ds in session.scalars(select(Dataset).where(cond))}


def find_qualified(
    session: Session, model: type[Dataset] | type[Job], qualified: Collection[str]
) -> list[tuple[str, str]]:
    """The (namespace, name) of each dataset or job whose ``namespace:name`` is in ``qualified``.

    One query for every way of splitting an id whose namespace or name may hold ``:``.
    """
    if not qualified:
        return []
    joined = model.namespace + literal(":") + model.name
    stmt = select(model.namespace, model.name).where(joined.in_(qualified))
    return [(ns, name) for ns, name in session.execute(stmt)]


def events_between(
    session: Session, *, before: datetime | None, after: datetime | None, ascending: bool
) -> Iterator[LineageEvent]:
    """Every stored event with ``after < eventTime < before`` by event time, read in batches."""
    stmt = _events(before, after, ascending).execution_options(yield_per=500)
    yield from session.scalars(stmt)
