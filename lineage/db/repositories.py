"""Repositories of the graph: node lookup, BFS frontiers and bulk node data (SQLAlchemy 2).

SQL lives only in ``lineage.db``: here the graph reads, in ``intake_sql`` the intake writes, in
``history_sql`` the usage and history pages, in ``access_sql`` tokens, grants and the audit log.
Functions take a ``Session`` and plain values and return ORM rows or plain tuples; callers own the
transaction. Graph reads take whole frontiers (sets of ids) so a traversal costs a fixed number of
queries per BFS level, never one per node.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import String, and_, func, literal, or_, select, union
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from lineage.db.models import (
    Base,
    Dataset,
    DatasetVersion,
    Deployment,
    Job,
    LineageEvent,
    Model,
    ModelVersion,
    Run,
    RunInput,
    RunOutput,
)
from lineage.identity import TRAINING_SET_PREFIX

T = TypeVar("T", bound=Base)
Edge = tuple[tuple[str, Any], tuple[str, Any]]


def get_or_create(
    session: Session, model: type[T], lookup: Mapping[str, Any], defaults: Mapping[str, Any]
) -> tuple[T, bool]:
    """Fetch the row matching ``lookup`` or insert it, safe against a concurrent insert.

    Returns:
        The row and whether it was created by this call.

    """
    stmt = select(model).filter_by(**lookup)
    found = session.scalars(stmt).first()
    if found is not None:
        return found, False
    # INSERT ... ON CONFLICT DO NOTHING instead of a SAVEPOINT per row: one statement, and a
    # concurrent insert of the same key is simply not ours (both SQLite and PostgreSQL).
    insert = _dialect_insert(session)(model).values(**lookup, **defaults)
    result = session.execute(insert.on_conflict_do_nothing())
    return session.scalars(stmt).one(), bool(getattr(result, "rowcount", 0) == 1)


def _dialect_insert(session: Session) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


# --- node lookup -------------------------------------------------------------------------------


def find_by_split_candidates(
    session: Session, model: type[Dataset] | type[Job], candidates: Sequence[tuple[str, str]]
) -> Dataset | Job | None:
    """Resolve an ambiguous ``namespace:name`` split with one query over every candidate split."""
    if not candidates:
        return None
    cond = or_(*(and_(model.namespace == ns, model.name == name) for ns, name in candidates))
    found = session.scalars(select(model).where(cond).order_by(model.id).limit(1)).first()
    return cast("Dataset | Job | None", found)


def find_dataset_version(
    session: Session, namespace: str, name: str, version: str
) -> DatasetVersion | None:
    """Return the version ``version`` of dataset ``namespace``/``name``."""
    stmt = (
        select(DatasetVersion)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(Dataset.namespace == namespace, Dataset.name == name)
        .where(DatasetVersion.version == version)
    )
    return session.scalars(stmt).first()


def find_model_version(session: Session, name: str, version: str) -> ModelVersion | None:
    """Return model ``name`` at ``version``."""
    stmt = (
        select(ModelVersion)
        .join(Model, Model.id == ModelVersion.model_id)
        .where(Model.name == name, ModelVersion.version == version)
    )
    return session.scalars(stmt).first()


def training_set_versions(session: Session, version: str) -> list[DatasetVersion]:
    """Return the training-set dataset versions whose version string is ``version``."""
    stmt = (
        select(DatasetVersion)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(DatasetVersion.version == version, Dataset.name.startswith(TRAINING_SET_PREFIX))
        .order_by(DatasetVersion.id)
    )
    return list(session.scalars(stmt))


# --- graph frontiers (a fixed number of queries per BFS level) ---------------------------------


def _runs_seen_by(as_of: datetime) -> Any:
    """Run ids with at least one event at or before ``as_of`` (the run existed then)."""
    return select(LineageEvent.run_id).where(
        LineageEvent.run_id.is_not(None), LineageEvent.event_time <= as_of
    )


def _edge_as_of(stmt: Any, io: type[RunInput] | type[RunOutput], as_of: datetime | None) -> Any:
    """Keep run edges whose run and dataset version both existed at ``as_of``."""
    if as_of is None:
        return stmt
    return stmt.where(
        io.run_id.in_(_runs_seen_by(as_of)),
        io.dataset_version_id.in_(
            select(DatasetVersion.id).where(DatasetVersion.created_at <= as_of)
        ),
    )


def _training_as_of(stmt: Any, as_of: datetime | None) -> Any:
    if as_of is None:
        return stmt
    return stmt.where(ModelVersion.created_at <= as_of, DatasetVersion.created_at <= as_of)


def _tagged_pairs(session: Session, parts: Sequence[tuple[int, Any]]) -> list[tuple[int, Any, Any]]:
    """Run two-column selects as one UNION, each row tagged with its part's number.

    Each part filters on one indexed column (``x IN (...)``); an ``OR`` across columns of two
    joined tables would defeat the indexes, and one statement keeps a BFS level to one round trip.
    """
    if not parts:
        return []
    tagged: list[Any] = [part.add_columns(literal(tag).label("tag")) for tag, part in parts]
    stmt: Any = tagged[0] if len(tagged) == 1 else union(*tagged)
    rows: list[tuple[int, Any, Any]] = []
    for row in session.execute(stmt):
        rows.append((int(row[2]), row[0], row[1]))
    return rows


def dataset_job_edges(
    session: Session,
    dataset_ids: Collection[int],
    job_ids: Collection[int],
    mv_ids: Collection[int],
    as_of: datetime | None = None,
) -> set[Edge]:
    """Return current-lineage edges touching the given datasets, jobs and model versions.

    With ``as_of``, only edges recorded by events at or before that time are returned.
    """
    parts: list[tuple[int, Any]] = []
    for tag, io in ((0, RunInput), (1, RunOutput)):
        base = select(io.dataset_id, Run.job_id).join(Run, Run.run_id == io.run_id)
        if dataset_ids:
            parts.append((tag, _edge_as_of(base.where(io.dataset_id.in_(dataset_ids)), io, as_of)))
        if job_ids:
            parts.append((tag, _edge_as_of(base.where(Run.job_id.in_(job_ids)), io, as_of)))
    training = _training_as_of(_training_join(select(Dataset.id, ModelVersion.id)), as_of)
    if dataset_ids:
        parts.append((2, training.where(Dataset.id.in_(dataset_ids))))
    if mv_ids:
        parts.append((2, training.where(ModelVersion.id.in_(mv_ids))))
    edges: set[Edge] = set()
    for tag, a, b in _tagged_pairs(session, parts):
        if tag == 2:
            edges.add((("dataset", a), ("model", b)))
        else:
            pair = (("dataset", a), ("job", b))
            edges.add(pair if tag == 0 else (pair[1], pair[0]))
    return edges


def version_edges(
    session: Session,
    dv_ids: Collection[int],
    run_ids: Collection[str],
    mv_ids: Collection[int],
    as_of: datetime | None = None,
) -> set[Edge]:
    """Return version-exact edges (version -> run -> version -> model) touching the frontier."""
    parts: list[tuple[int, Any]] = []
    for tag, io in ((0, RunInput), (1, RunOutput)):
        base = select(io.dataset_version_id, io.run_id)
        if dv_ids:
            parts.append(
                (tag, _edge_as_of(base.where(io.dataset_version_id.in_(dv_ids)), io, as_of))
            )
        if run_ids:
            parts.append((tag, _edge_as_of(base.where(io.run_id.in_(run_ids)), io, as_of)))
    # The union's second column holds run ids (text), so the model-version id goes as text too.
    model_id = sql_cast(ModelVersion.id, String)
    training = _training_as_of(_training_join(select(DatasetVersion.id, model_id)), as_of)
    if dv_ids:
        parts.append((2, training.where(DatasetVersion.id.in_(dv_ids))))
    if mv_ids:
        parts.append((2, training.where(ModelVersion.id.in_(mv_ids))))
    edges: set[Edge] = set()
    for tag, a, b in _tagged_pairs(session, parts):
        if tag == 2:
            edges.add((("datasetVersion", a), ("model", int(b))))
        else:
            pair = (("datasetVersion", a), ("run", b))
            edges.add(pair if tag == 0 else (pair[1], pair[0]))
    return edges


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


def latest_versions_until(
    session: Session, dataset_ids: Collection[int], as_of: datetime
) -> dict[int, DatasetVersion]:
    """Return, per dataset, its newest version created at or before ``as_of``."""
    stmt = (
        select(DatasetVersion)
        .where(DatasetVersion.dataset_id.in_(dataset_ids), DatasetVersion.created_at <= as_of)
        .order_by(DatasetVersion.created_at, DatasetVersion.id)
    )
    return {dv.dataset_id: dv for dv in session.scalars(stmt)}


def _training_join(stmt: Any) -> Any:
    return (
        stmt.select_from(ModelVersion)
        .join(DatasetVersion, DatasetVersion.version == ModelVersion.training_set_version)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(Dataset.name.startswith(TRAINING_SET_PREFIX))
    )


def run_io(
    session: Session,
    edge: type[RunInput] | type[RunOutput],
    *,
    dv_ids: Collection[int] = (),
    run_ids: Collection[str] = (),
) -> list[tuple[str, int]]:
    """Return (run_id, dataset_version_id) pairs of ``edge`` for the given versions or runs."""
    stmt = select(edge.run_id, edge.dataset_version_id).where(
        or_(edge.dataset_version_id.in_(dv_ids), edge.run_id.in_(run_ids))
    )
    return [(r, v) for r, v in session.execute(stmt)]


# --- bulk node data ----------------------------------------------------------------------------


def datasets_by_ids(session: Session, ids: Collection[int]) -> dict[int, Dataset]:
    """Return datasets keyed by id."""
    return {d.id: d for d in session.scalars(select(Dataset).where(Dataset.id.in_(ids)))}


def jobs_by_ids(session: Session, ids: Collection[int]) -> dict[int, Job]:
    """Return jobs keyed by id."""
    return {j.id: j for j in session.scalars(select(Job).where(Job.id.in_(ids)))}


def dataset_versions_by_ids(
    session: Session, ids: Collection[int]
) -> dict[int, tuple[DatasetVersion, Dataset]]:
    """Return dataset versions with their datasets, keyed by version id."""
    stmt = (
        select(DatasetVersion, Dataset)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(DatasetVersion.id.in_(ids))
    )
    return {dv.id: (dv, ds) for dv, ds in session.execute(stmt)}


def runs_by_ids(session: Session, ids: Collection[str]) -> dict[str, tuple[Run, Job]]:
    """Return runs with their jobs, keyed by run id."""
    stmt = select(Run, Job).join(Job, Job.id == Run.job_id).where(Run.run_id.in_(ids))
    return {r.run_id: (r, j) for r, j in session.execute(stmt)}


def model_versions_by_ids(
    session: Session, ids: Collection[int]
) -> dict[int, tuple[ModelVersion, Model]]:
    """Return model versions with their models, keyed by model-version id."""
    stmt = (
        select(ModelVersion, Model)
        .join(Model, Model.id == ModelVersion.model_id)
        .where(ModelVersion.id.in_(ids))
    )
    return {mv.id: (mv, m) for mv, m in session.execute(stmt)}


def model_versions_trained_on(
    session: Session, versions: Collection[str]
) -> list[tuple[ModelVersion, Model]]:
    """Return model versions whose training-set version is one of ``versions``."""
    stmt = (
        select(ModelVersion, Model)
        .join(Model, Model.id == ModelVersion.model_id)
        .where(ModelVersion.training_set_version.in_(versions))
        .order_by(Model.name, ModelVersion.version)
    )
    return list(session.execute(stmt))


def deployments_of(session: Session, mv_ids: Collection[int]) -> list[Deployment]:
    """Return deployments of the given model versions."""
    stmt = select(Deployment).where(Deployment.model_version_id.in_(mv_ids)).order_by(Deployment.id)
    return list(session.scalars(stmt))


def count_summary(session: Session) -> dict[str, Any]:
    """Return row counts of the main lineage tables and runs by state."""
    counts: dict[str, Any] = {}
    for key, model in (
        ("datasets", Dataset),
        ("dataset_versions", DatasetVersion),
        ("jobs", Job),
        ("models", Model),
        ("model_versions", ModelVersion),
        ("deployments", Deployment),
        ("events", LineageEvent),
    ):
        counts[key] = session.scalar(select(func.count()).select_from(model)) or 0
    by_state = session.execute(select(Run.state, func.count()).group_by(Run.state))
    counts["runs"] = {state: n for state, n in by_state}
    return counts


def ping(session: Session) -> bool:
    """Return True when the database answers a trivial query."""
    return session.scalar(select(literal(1))) == 1
