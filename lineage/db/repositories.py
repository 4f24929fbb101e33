"""Repositories of the graph: node lookup, node rows by id, version walks, models (SQLAlchemy 2).

SQL lives only in ``lineage.db``: here node lookups and rows, in ``graph_sql`` the lineage
traversal's levels, in ``intake_sql`` the intake writes, in ``history_sql`` the usage and history
pages, in ``access_sql`` tokens, grants and the audit log. Functions take a ``Session`` and plain
values and return ORM rows or column rows; callers own the transaction. Reads take whole sets of
ids so a walk costs a fixed number of queries per level, never one per node.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import ARRAY, Row, and_, any_, bindparam, func, literal, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from lineage.db import raw
from lineage.db.models import (
    Base,
    Dataset,
    DatasetAlias,
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
from lineage.db.session import session_scope
from lineage.identity import TRAINING_SET_PREFIX
from lineage.rules import CODE_FACETS

T = TypeVar("T", bound=Base)


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


def is_postgresql(session: Session) -> bool:
    """Return whether ``session`` talks to PostgreSQL (else SQLite)."""
    return bool(session.get_bind().dialect.name == "postgresql")


def any_of(column: Any, name: str, postgresql: bool) -> Any:
    """Return "``column`` is one of the values bound to ``name``".

    PostgreSQL gets one array parameter (``= ANY(:name)``), so the statement's text does not
    depend on how many values there are: it is compiled once and psycopg prepares it server-side
    after a few executions. SQLite gets an expanding ``IN`` (one parameter per value).
    """
    if postgresql:
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


# --- node lookup -------------------------------------------------------------------------------


def find_by_split_candidates(
    session: Session, model: type[Dataset] | type[Job], candidates: Sequence[tuple[str, str]]
) -> Dataset | Job | None:
    """Resolve an ambiguous ``namespace:name`` split with one query over every candidate split."""
    if not candidates:
        return None
    cond = or_(*(and_(model.namespace == ns, model.name == name) for ns, name in candidates))
    found = session.scalars(select(model).where(cond).order_by(model.id).limit(1)).first()
    if found is None and model is Dataset:  # a name that is a symlink of a dataset
        alias = or_(
            *(and_(DatasetAlias.namespace == ns, DatasetAlias.name == n) for ns, n in candidates)
        )
        stmt = select(Dataset).join(DatasetAlias, DatasetAlias.dataset_id == Dataset.id)
        found = session.scalars(stmt.where(alias).order_by(Dataset.id).limit(1)).first()
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


def find_model(session: Session, name: str) -> Model | None:
    """Return model ``name`` (names are unique across namespaces)."""
    return session.scalars(select(Model).where(Model.name == name)).first()


def find_model_version(session: Session, name: str, version: str) -> ModelVersion | None:
    """Return model ``name`` at ``version``."""
    stmt = (
        select(ModelVersion)
        .join(Model, Model.id == ModelVersion.model_id)
        .where(Model.name == name, ModelVersion.version == version)
    )
    return session.scalars(stmt).first()


def training_set_versions(
    session: Session, version: str, dataset_id: int | None = None
) -> list[Row[Any]]:
    """Return the training-set versions whose version string is ``version``, oldest first.

    Args:
        session: An open session.
        version: The version string.
        dataset_id: Only versions of this dataset (None: of any training set).

    Returns:
        Rows of (id, version, namespace, name).

    """
    stmt = (
        select(DatasetVersion.id, DatasetVersion.version, Dataset.namespace, Dataset.name)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(DatasetVersion.version == version, Dataset.name.startswith(TRAINING_SET_PREFIX))
        .order_by(DatasetVersion.id)
    )
    if dataset_id is not None:
        stmt = stmt.where(Dataset.id == dataset_id)
    return list(session.execute(stmt))


# --- version walks (provenance and impact) -----------------------------------------------------


@cache
def _step_sql(upstream: bool, postgresql: bool) -> Any:
    """One level of a walk over versions through runs, as one statement (built once)."""
    near, far = (RunOutput, RunInput) if upstream else (RunInput, RunOutput)
    return (
        select(near.run_id, far.dataset_version_id)
        .select_from(near)
        .outerjoin(far, far.run_id == near.run_id)
        .where(any_of(near.dataset_version_id, "ids", postgresql))
    )


def version_step(
    session: Session, dv_ids: Collection[int], *, upstream: bool
) -> tuple[set[str], set[int]]:
    """One level of a provenance (``upstream``) or impact walk from the versions ``dv_ids``.

    Returns:
        The runs that wrote (upstream) or read (downstream) one of ``dv_ids``, and the versions
        those runs read (upstream) or wrote (downstream). On PostgreSQL the statement's text does
        not depend on how many versions there are, so it is prepared once per connection.

    """
    if not dv_ids:
        return set(), set()
    rows = session.execute(_step_sql(upstream, is_postgresql(session)), {"ids": list(dv_ids)})
    runs: set[str] = set()
    versions: set[int] = set()
    for run, version in rows:
        runs.add(run)
        if version is not None:  # a run with no edge on the far side
            versions.add(version)
    return runs, versions


# --- bulk node data ----------------------------------------------------------------------------


@cache
def _node_rows(kind: str, postgresql: bool) -> Any:
    """The column select of one node kind, keyed by ``:ids`` (built once per kind and dialect).

    Datasets and jobs bring only the parts of their facets a node shows, taken out in SQL: facets
    can be large (column lineage, a job's source code) and are not needed whole.
    """
    stmt: Any
    key: Any
    if kind == "dataset":
        fields = _facet(Dataset.facets, ("schema", "fields"), postgresql).label("fields")
        stmt = select(Dataset.id, Dataset.namespace, Dataset.name, fields, Dataset.updated_at)
        key = Dataset.id
    elif kind == "job":
        code = (_facet(Job.facets, at, postgresql).label(name) for name, at in CODE_FACETS.items())
        stmt = select(Job.id, Job.namespace, Job.name, *code, Job.updated_at)
        key = Job.id
    elif kind == "datasetVersion":
        dv = DatasetVersion
        stmt = select(
            dv.id,
            dv.version,
            dv.version_source,
            dv.created_at,
            dv.facets,
            Dataset.namespace,
            Dataset.name,
        ).join(Dataset, Dataset.id == dv.dataset_id)
        key = dv.id
    else:
        stmt = select(
            Run.run_id,
            Run.state,
            Run.started_at,
            Run.ended_at,
            Run.job_facets,
            Job.namespace,
            Job.name,
        ).join(Job, Job.id == Run.job_id)
        key = Run.run_id
    return stmt.where(any_of(key, "ids", postgresql))


def _facet(facets: Any, path: tuple[str, str], postgresql: bool) -> Any:
    """``facets`` at ``path``; on PostgreSQL as ``->`` steps, whose text keys ``raw`` can bind."""
    if postgresql:
        return facets[path[0]][path[1]]
    return facets[path]


def _rows_by_ids(session: Session, kind: str, ids: Collection[Any]) -> list[Row[Any]]:
    if not ids:
        return []
    postgresql = is_postgresql(session)
    if postgresql:
        return raw.execute(session, _node_rows(kind, postgresql), {"ids": list(ids)})
    return list(session.execute(_node_rows(kind, postgresql), {"ids": list(ids)}))


def datasets_by_ids(session: Session, ids: Collection[int]) -> dict[int, Row[Any]]:
    """Return datasets (id, namespace, name, fields of the schema facet, updated_at) by id."""
    return {r.id: r for r in _rows_by_ids(session, "dataset", ids)}


def jobs_by_ids(session: Session, ids: Collection[int]) -> dict[int, Row[Any]]:
    """Return jobs keyed by id: id, namespace, name, the ``CODE_FACETS`` fields, updated_at."""
    return {r.id: r for r in _rows_by_ids(session, "job", ids)}


def dataset_versions_by_ids(session: Session, ids: Collection[int]) -> dict[int, Row[Any]]:
    """Return dataset versions keyed by id, each row with its dataset's namespace and name.

    Columns: id, version, version_source, created_at, facets (the version's), namespace, name.
    """
    return {r.id: r for r in _rows_by_ids(session, "datasetVersion", ids)}


def runs_by_ids(session: Session, ids: Collection[str]) -> dict[str, Row[Any]]:
    """Return runs keyed by run id, each row with its job's namespace and name.

    Columns: run_id, state, started_at, ended_at, job_facets, namespace, name.
    """
    return {r.run_id: r for r in _rows_by_ids(session, "run", ids)}


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
    session: Session, dv_ids: Collection[int]
) -> list[tuple[ModelVersion, Model]]:
    """Return model versions linked to one of the training-set dataset versions ``dv_ids``."""
    if not dv_ids:
        return []
    stmt = (
        select(ModelVersion, Model)
        .join(Model, Model.id == ModelVersion.model_id)
        .where(ModelVersion.training_set_version_id.in_(dv_ids))
        .order_by(Model.name, ModelVersion.version)
    )
    return list(session.execute(stmt))


def deployments_of(session: Session, mv_ids: Collection[int]) -> list[Deployment]:
    """Return deployments of the given model versions."""
    if not mv_ids:
        return []
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


def database_answers(factory: sessionmaker[Session]) -> bool:
    """Whether the database answers a trivial query now, in a transaction of its own.

    False, never an exception, when it cannot be reached: ``/health`` reports it as a state.
    """
    try:
        with session_scope(factory) as session:
            return ping(session)
    except SQLAlchemyError:
        return False
