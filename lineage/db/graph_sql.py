"""Reads of the bounded lineage traversal: each BFS level's edges in one statement, and as-of facts.

A level's edges come from one ``UNION`` whose every part filters one indexed column by the frontier
(an ``OR`` across columns of two joined tables would defeat the indexes); each row is tagged with
the kind of edge it is. The statements are built once per shape (which node kinds the frontier
holds, whether the query is as of a time, the dialect) and take the frontier as parameters
(``repositories.any_of``), so a level costs one round trip and no statement building.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Integer, String, bindparam, case, literal_column, select, union
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, aliased

from lineage.db.models import (
    Dataset,
    DatasetVersion,
    Job,
    JobEdge,
    JobRunEdge,
    LineageEvent,
    ModelVersion,
    Run,
    RunInput,
    RunOutput,
    RunParent,
    UTCDateTime,
)
from lineage.db.repositories import any_of, is_postgresql

Edge = tuple[tuple[str, Any], tuple[str, Any]]
# Edge tags: a run (or a job's declared lineage) read / wrote a dataset, a model trained on it,
# a run of one job is the parent of a run of another (ParentRunFacet).
READ, WROTE, TRAINED, PARENT = 0, 1, 2, 3


def _tag(tag: int) -> Any:
    return literal_column(str(tag), Integer).label("tag")


def _runs_seen_by(as_of: Any) -> Any:
    """Run ids with at least one event at or before ``as_of`` (the run existed then)."""
    return select(LineageEvent.run_id).where(
        LineageEvent.run_id.is_not(None), LineageEvent.event_time <= as_of
    )


def _edge_as_of(stmt: Any, io: type[RunInput] | type[RunOutput], as_of: Any) -> Any:
    """Keep run edges whose run and dataset version both existed at ``as_of``."""
    if as_of is None:
        return stmt
    return stmt.where(
        io.run_id.in_(_runs_seen_by(as_of)),
        io.dataset_version_id.in_(
            select(DatasetVersion.id).where(DatasetVersion.created_at <= as_of)
        ),
    )


def _training(columns: tuple[Any, ...], as_of: Any) -> Any:
    """Select ``columns`` over (model version, training-set version, training-set dataset)."""
    stmt = (
        select(*columns)
        .select_from(ModelVersion)
        .join(DatasetVersion, DatasetVersion.id == ModelVersion.training_set_version_id)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
    )
    if as_of is None:
        return stmt
    return stmt.where(ModelVersion.created_at <= as_of, DatasetVersion.created_at <= as_of)


def _as_of_param(timed: bool) -> Any:
    return bindparam("as_of", type_=UTCDateTime()) if timed else None


def current_parts(
    match: Callable[[Any, str], Any], datasets: bool, jobs: bool, models: bool, as_of: Any
) -> list[Any]:
    """The parts of the UNION of current-lineage edges touching the frontier.

    ``match(column, kind)`` says "``column`` holds one of the frontier's ``datasets``, ``jobs``
    or ``models``" (bound parameters here, a recursive statement's row in ``walk_sql``).
    """
    if as_of is None:
        # Now: each job's edges, of its runs and declared, one row per (job, dataset, direction).
        parts = [
            select(table.dataset_id, table.job_id, _direction_tag(table.direction)).where(
                match(column, name)
            )
            for table in (JobRunEdge, JobEdge)
            for wanted, column, name in (
                (datasets, table.dataset_id, "datasets"),
                (jobs, table.job_id, "jobs"),
            )
            if wanted
        ]
        return parts + _parent_and_training_parts(match, jobs, datasets, models, as_of)
    parts = []
    for tag, io in ((READ, RunInput), (WROTE, RunOutput)):
        base = select(io.dataset_id, Run.job_id, _tag(tag)).join(Run, Run.run_id == io.run_id)
        for wanted, column, name in (
            (datasets, io.dataset_id, "datasets"),
            (jobs, Run.job_id, "jobs"),
        ):
            if wanted:
                parts.append(_edge_as_of(base.where(match(column, name)), io, as_of))
    for tag, direction in ((READ, "in"), (WROTE, "out")):
        declared = (
            select(JobEdge.dataset_id, JobEdge.job_id, _tag(tag))
            .join(Job, Job.id == JobEdge.job_id)
            .where(JobEdge.direction == direction)
        )
        declared = declared.where(Job.created_at <= as_of)
        if datasets:
            parts.append(declared.where(match(JobEdge.dataset_id, "datasets")))
        if jobs:
            parts.append(declared.where(match(JobEdge.job_id, "jobs")))
    return parts + _parent_and_training_parts(match, jobs, datasets, models, as_of)


def _direction_tag(direction: Any) -> Any:
    read: Any = literal_column(str(READ))
    wrote: Any = literal_column(str(WROTE))
    return case((direction == "in", read), else_=wrote).label("tag")


def _parent_and_training_parts(
    match: Callable[[Any, str], Any], jobs: bool, datasets: bool, models: bool, as_of: Any
) -> list[Any]:
    """The parts of the level's UNION for parent runs' jobs and models' training sets."""
    parts = []
    if jobs:
        child, parent = aliased(Run), aliased(Run)
        parents = (
            select(parent.job_id, child.job_id, _tag(PARENT))
            .select_from(RunParent)
            .join(child, child.run_id == RunParent.run_id)
            .join(parent, parent.run_id == RunParent.parent_run_id)
        )
        if as_of is not None:
            parents = parents.where(child.run_id.in_(_runs_seen_by(as_of)))
        parts.append(parents.where(match(child.job_id, "jobs")))
        parts.append(parents.where(match(parent.job_id, "jobs")))
    training = _training((Dataset.id, ModelVersion.id, _tag(TRAINED)), as_of)
    if datasets:
        parts.append(training.where(match(Dataset.id, "datasets")))
    if models:
        parts.append(training.where(match(ModelVersion.id, "models")))
    return parts


@cache
def _current_level(postgresql: bool, datasets: bool, jobs: bool, models: bool, timed: bool) -> Any:
    """The UNION of current-lineage edges touching ``:datasets``, ``:jobs`` and ``:models``."""

    def match(column: Any, name: str) -> Any:
        return any_of(column, name, postgresql)

    parts = current_parts(match, datasets, jobs, models, _as_of_param(timed))
    return parts[0] if len(parts) == 1 else union(*parts)


def current_edge(dataset: int, other: int, tag: int) -> Edge | None:
    """The edge a row of the current-lineage UNION stands for (None: a job parent of itself)."""
    if tag == PARENT:  # (parent job, child job)
        return None if dataset == other else (("job", dataset), ("job", other))
    if tag == TRAINED:
        return (("dataset", dataset), ("model", other))
    if tag == READ:
        return (("dataset", dataset), ("job", other))
    return (("job", other), ("dataset", dataset))


def current_edges(
    session: Session,
    dataset_ids: Collection[int],
    job_ids: Collection[int],
    mv_ids: Collection[int],
    as_of: datetime | None = None,
) -> set[Edge]:
    """Return current-lineage edges touching the given datasets, jobs and model versions.

    Edges run dataset -> job (the job's runs read it), job -> dataset (they wrote it) and
    dataset -> model (a training set the model version was trained on). With ``as_of``, only
    edges recorded by events at or before that time are returned.
    """
    if not (dataset_ids or job_ids or mv_ids):
        return set()
    shape = (bool(dataset_ids), bool(job_ids), bool(mv_ids), as_of is not None)
    stmt = _current_level(is_postgresql(session), *shape)
    params = {
        "datasets": list(dataset_ids),
        "jobs": list(job_ids),
        "models": list(mv_ids),
        "as_of": as_of,
    }
    found = (current_edge(*row) for row in session.execute(stmt, params))
    return {edge for edge in found if edge is not None}


@cache
def _version_level(postgresql: bool, versions: bool, runs: bool, timed: bool) -> Any:
    """The UNION of version-exact edges touching ``:versions`` and ``:runs``."""
    as_of = _as_of_param(timed)
    parts = []
    for tag, io in ((READ, RunInput), (WROTE, RunOutput)):
        base = select(io.dataset_version_id, io.run_id, _tag(tag))
        for wanted, column, name in (
            (versions, io.dataset_version_id, "versions"),
            (runs, io.run_id, "runs"),
        ):
            if wanted:
                parts.append(_edge_as_of(base.where(any_of(column, name, postgresql)), io, as_of))
    if versions:
        # The union's second column holds run ids (text), so the model-version id goes as text.
        model_id = sql_cast(ModelVersion.id, String)
        training = _training((DatasetVersion.id, model_id, _tag(TRAINED)), as_of)
        parts.append(training.where(any_of(DatasetVersion.id, "versions", postgresql)))
    return parts[0] if len(parts) == 1 else union(*parts)


def version_edges(
    session: Session,
    dv_ids: Collection[int],
    run_ids: Collection[str],
    as_of: datetime | None = None,
) -> set[Edge]:
    """Return version-exact edges (version -> run -> version -> model) touching the frontier.

    A model version is where version-exact lineage ends: nothing is followed out of it.
    """
    if not (dv_ids or run_ids):
        return set()
    shape = (bool(dv_ids), bool(run_ids), as_of is not None)
    stmt = _version_level(is_postgresql(session), *shape)
    params = {"versions": list(dv_ids), "runs": list(run_ids), "as_of": as_of}
    edges: set[Edge] = set()
    if run_ids:
        edges |= run_parent_edges(session, run_ids, as_of)
    for version, other, tag in session.execute(stmt, params):
        if tag == TRAINED:
            edges.add((("datasetVersion", version), ("model", int(other))))
        elif tag == READ:
            edges.add((("datasetVersion", version), ("run", other)))
        else:
            edges.add((("run", other), ("datasetVersion", version)))
    return edges


def run_parent_edges(
    session: Session, run_ids: Collection[str], as_of: datetime | None = None
) -> set[Edge]:
    """Parent run -> child run edges touching ``run_ids`` (as parent or as child)."""
    ids = list(run_ids)
    stmt = select(RunParent.parent_run_id, RunParent.run_id).where(
        RunParent.run_id.in_(ids) | RunParent.parent_run_id.in_(ids)
    )
    if as_of is not None:
        stmt = stmt.where(RunParent.run_id.in_(_runs_seen_by(as_of)))
    return {(("run", parent), ("run", child)) for parent, child in session.execute(stmt)}


def node_seen_by(session: Session, kind: str, key: Any, as_of: datetime) -> bool:
    """Return whether a graph node existed at ``as_of`` (judged by event times).

    A dataset exists once a version of it does; a job once one of its runs has an event (or, for
    a job never run, once it was first stored); a run once it has an event; a model version once
    it was registered.
    """
    stmt: Any
    if kind == "dataset":
        stmt = select(DatasetVersion.id).where(
            DatasetVersion.dataset_id == key, DatasetVersion.created_at <= as_of
        )
    elif kind == "datasetVersion":
        stmt = select(DatasetVersion.id).where(
            DatasetVersion.id == key, DatasetVersion.created_at <= as_of
        )
    elif kind == "run":
        stmt = _runs_seen_by(as_of).where(LineageEvent.run_id == key)
    elif kind == "model":
        stmt = select(ModelVersion.id).where(
            ModelVersion.id == key, ModelVersion.created_at <= as_of
        )
    else:
        if session.scalar(select(Run.run_id).where(Run.job_id == key).limit(1)) is None:
            stmt = select(Job.id).where(Job.id == key, Job.created_at <= as_of)
        else:
            stmt = select(Run.run_id).where(Run.job_id == key, Run.run_id.in_(_runs_seen_by(as_of)))
    return session.scalar(stmt.limit(1)) is not None


def run_events_until(
    session: Session, run_ids: Collection[str], as_of: datetime
) -> list[tuple[str, str, datetime]]:
    """Return (run id, event type, event time) of run events at or before ``as_of``."""
    stmt = (
        select(LineageEvent.run_id, LineageEvent.event_type, LineageEvent.event_time)
        .where(LineageEvent.run_id.in_(run_ids), LineageEvent.event_time <= as_of)
        .order_by(LineageEvent.event_time, LineageEvent.id)
    )
    return [(str(r), str(t), w) for r, t, w in session.execute(stmt)]


def schemas_until(
    session: Session, dataset_ids: Collection[int], as_of: datetime
) -> dict[int, dict[str, Any]]:
    """Return, per dataset, the schema of its newest version created at or before ``as_of``."""
    stmt = (
        select(DatasetVersion.dataset_id, DatasetVersion.schema_fields)
        .where(DatasetVersion.dataset_id.in_(dataset_ids), DatasetVersion.created_at <= as_of)
        .order_by(DatasetVersion.created_at, DatasetVersion.id)
    )
    return {dataset_id: fields for dataset_id, fields in session.execute(stmt)}
