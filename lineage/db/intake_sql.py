"""SQL of the intake write path: set-based reads and writes for a whole batch of events.

Every function takes a ``Session`` and whole key sets, so one batch of events costs a fixed number
of statements however many events, jobs or datasets it holds. Callers own the transaction and
hold ``lock_intake`` for it, which makes read-then-write safe across processes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import BigInteger, Executable, Select, Text, and_, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from lineage.db.models import (
    ColumnLineage,
    Dataset,
    DatasetVersion,
    Job,
    LineageEvent,
    Run,
    RunInput,
    RunOutput,
)

# Any constant shared by every intake writer; pg_advisory_xact_lock releases it at commit.
INTAKE_LOCK_KEY = 0x5EE71E55
Key = tuple[str, str]


# Statements are built once: executing a prebuilt statement skips building and hashing it again,
# and "expanding" parameters take the key sets of each batch.
_LOCK = select(func.pg_advisory_xact_lock(INTAKE_LOCK_KEY))
_HASHES = select(LineageEvent.event_hash).where(
    LineageEvent.event_hash.in_(bindparam("keys", expanding=True))
)
_JOBS = select(Job.namespace, Job.name, Job.id, Job.facets).where(
    tuple_(Job.namespace, Job.name).in_(bindparam("keys", expanding=True))
)
_DATASETS = select(Dataset.namespace, Dataset.name, Dataset.id, Dataset.facets).where(
    tuple_(Dataset.namespace, Dataset.name).in_(bindparam("keys", expanding=True))
)
_VERSION_COLUMNS = (
    DatasetVersion.id,
    DatasetVersion.dataset_id,
    DatasetVersion.version,
    DatasetVersion.version_source,
    DatasetVersion.facets,
    DatasetVersion.created_at,
)
_VERSIONS = select(*_VERSION_COLUMNS).where(
    tuple_(DatasetVersion.dataset_id, DatasetVersion.version).in_(bindparam("keys", expanding=True))
)


def _pairs_pg(stmt: Select[Any], first: Any, second: Any, kinds: tuple[Any, Any]) -> Select[Any]:
    """``stmt`` restricted to (first, second) pairs given as two arrays: constant SQL text.

    PostgreSQL prepares it once and looks each pair up in the unique index; a row-value IN
    list has a new text (parse and plan) for every batch size.
    """
    pairs = (
        func.unnest(bindparam("a", type_=ARRAY(kinds[0])), bindparam("b", type_=ARRAY(kinds[1])))
        .table_valued("a", "b")
        .render_derived("pairs")
    )
    return stmt.join(pairs, and_(first == pairs.c.a, second == pairs.c.b))


_BY_PAIRS = {
    _JOBS: _pairs_pg(
        select(Job.namespace, Job.name, Job.id, Job.facets), Job.namespace, Job.name, (Text, Text)
    ),
    _DATASETS: _pairs_pg(
        select(Dataset.namespace, Dataset.name, Dataset.id, Dataset.facets),
        Dataset.namespace,
        Dataset.name,
        (Text, Text),
    ),
    _VERSIONS: _pairs_pg(
        select(*_VERSION_COLUMNS),
        DatasetVersion.dataset_id,
        DatasetVersion.version,
        (BigInteger, Text),
    ),
}
_RANKED = (
    select(
        *_VERSION_COLUMNS,
        func.row_number()
        .over(
            partition_by=DatasetVersion.dataset_id,
            order_by=(DatasetVersion.created_at.desc(), DatasetVersion.id.desc()),
        )
        .label("rank"),
    )
    .where(DatasetVersion.dataset_id.in_(bindparam("keys", expanding=True)))
    .subquery()
)
_LATEST = select(*(_RANKED.c[c.key] for c in _VERSION_COLUMNS)).where(_RANKED.c.rank == 1)
_RUNS = select(
    Run.run_id,
    Run.job_id,
    Run.state,
    Run.state_time,
    Run.started_at,
    Run.ended_at,
    Run.facets,
    Run.job_facets,
).where(Run.run_id.in_(bindparam("keys", expanding=True)))
_EDGES = {
    edge: select(edge.run_id, edge.dataset_id, edge.dataset_version_id, edge.version_source).where(
        edge.run_id.in_(bindparam("keys", expanding=True))
    )
    for edge in (RunInput, RunOutput)
}


def _rows(session: Session, stmt: Executable, keys: Collection[Any]) -> Sequence[Any]:
    connection = session.connection()
    if connection.dialect.name == "postgresql" and stmt in _BY_PAIRS:
        unique = list(dict.fromkeys(keys))
        params = {"a": [k[0] for k in unique], "b": [k[1] for k in unique]}
        return connection.execute(_BY_PAIRS[stmt], params).all()
    return connection.execute(stmt, {"keys": list(keys)}).all()


def lock_intake(session: Session) -> None:
    """Serialize intake writers until the transaction ends.

    PostgreSQL takes a transaction-scoped advisory lock; SQLite already serializes writers
    (``BEGIN IMMEDIATE``, see ``lineage.db.session``).
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK)


def stored_event_hashes(session: Session, hashes: Collection[str]) -> set[str]:
    """Return which of ``hashes`` are already stored."""
    if not hashes:
        return set()
    return {row[0] for row in _rows(session, _HASHES, hashes)}


def jobs_by_keys(session: Session, keys: Collection[Key]) -> dict[Key, tuple[int, dict[str, Any]]]:
    """Return (id, facets) of stored jobs keyed by (namespace, name)."""
    if not keys:
        return {}
    return {(ns, name): (id_, facets) for ns, name, id_, facets in _rows(session, _JOBS, keys)}


def datasets_by_keys(
    session: Session, keys: Collection[Key]
) -> dict[Key, tuple[int, dict[str, Any]]]:
    """Return (id, facets) of stored datasets keyed by (namespace, name)."""
    if not keys:
        return {}
    rows = _rows(session, _DATASETS, keys)
    return {(ns, name): (id_, facets) for ns, name, id_, facets in rows}


def versions_by_keys(session: Session, keys: Collection[tuple[int, str]]) -> Sequence[Any]:
    """Return stored dataset versions for (dataset id, version) keys."""
    if not keys:
        return []
    return _rows(session, _VERSIONS, keys)


def latest_versions(session: Session, dataset_ids: Collection[int]) -> Sequence[Any]:
    """Return, per dataset, its most recently created version (created_at, then id)."""
    if not dataset_ids:
        return []
    return _rows(session, _LATEST, dataset_ids)


def runs_by_ids(session: Session, run_ids: Collection[str]) -> Sequence[Any]:
    """Return stored runs (every column) for the given run ids."""
    if not run_ids:
        return []
    return _rows(session, _RUNS, run_ids)


def run_edges(
    session: Session, edge: type[RunInput] | type[RunOutput], run_ids: Collection[str]
) -> dict[tuple[str, int], tuple[int, str]]:
    """Return (dataset version id, version source) keyed by (run id, dataset id)."""
    if not run_ids:
        return {}
    rows = _rows(session, _EDGES[edge], run_ids)
    return {(run, ds): (dv, source) for run, ds, dv, source in rows}


def column_lineage_keys(session: Session, dv_ids: Collection[int]) -> set[tuple[Any, ...]]:
    """Return the unique keys of stored column-lineage edges of the given versions."""
    if not dv_ids:
        return set()
    stmt = select(
        ColumnLineage.dataset_version_id,
        ColumnLineage.output_field,
        ColumnLineage.input_namespace,
        ColumnLineage.input_name,
        ColumnLineage.input_field,
    ).where(ColumnLineage.dataset_version_id.in_(dv_ids))
    return {tuple(row) for row in session.execute(stmt)}
