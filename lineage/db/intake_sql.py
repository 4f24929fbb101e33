"""SQL of the intake write path: set-based reads and writes for a whole batch of events.

Every function takes a ``Session`` and whole key sets, so one batch of events costs a fixed number
of statements however many events, jobs or datasets it holds. Callers own the transaction and
hold ``lock_intake`` for it, which makes read-then-write safe across processes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from lineage.db.models import (
    Base,
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


def lock_intake(session: Session) -> None:
    """Serialize intake writers until the transaction ends.

    PostgreSQL takes a transaction-scoped advisory lock; SQLite already serializes writers
    (``BEGIN IMMEDIATE``, see ``lineage.db.session``).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(INTAKE_LOCK_KEY)))


def stored_event_hashes(session: Session, hashes: Collection[str]) -> set[str]:
    """Return which of ``hashes`` are already stored."""
    if not hashes:
        return set()
    stmt = select(LineageEvent.event_hash).where(LineageEvent.event_hash.in_(hashes))
    return set(session.scalars(stmt))


def jobs_by_keys(session: Session, keys: Collection[Key]) -> dict[Key, tuple[int, dict[str, Any]]]:
    """Return (id, facets) of stored jobs keyed by (namespace, name)."""
    if not keys:
        return {}
    stmt = select(Job.namespace, Job.name, Job.id, Job.facets).where(
        tuple_(Job.namespace, Job.name).in_(list(keys))
    )
    return {(ns, name): (id_, facets) for ns, name, id_, facets in session.execute(stmt)}


def datasets_by_keys(
    session: Session, keys: Collection[Key]
) -> dict[Key, tuple[int, dict[str, Any]]]:
    """Return (id, facets) of stored datasets keyed by (namespace, name)."""
    if not keys:
        return {}
    stmt = select(Dataset.namespace, Dataset.name, Dataset.id, Dataset.facets).where(
        tuple_(Dataset.namespace, Dataset.name).in_(list(keys))
    )
    return {(ns, name): (id_, facets) for ns, name, id_, facets in session.execute(stmt)}


_VERSION_COLUMNS = (
    DatasetVersion.id,
    DatasetVersion.dataset_id,
    DatasetVersion.version,
    DatasetVersion.version_source,
    DatasetVersion.facets,
    DatasetVersion.created_at,
)


def versions_by_keys(session: Session, keys: Collection[tuple[int, str]]) -> list[Any]:
    """Return stored dataset versions for (dataset id, version) keys."""
    if not keys:
        return []
    stmt = select(*_VERSION_COLUMNS).where(
        tuple_(DatasetVersion.dataset_id, DatasetVersion.version).in_(list(keys))
    )
    return list(session.execute(stmt))


def latest_versions(session: Session, dataset_ids: Collection[int]) -> list[Any]:
    """Return, per dataset, its most recently created version (created_at, then id)."""
    if not dataset_ids:
        return []
    rank = (
        func.row_number()
        .over(
            partition_by=DatasetVersion.dataset_id,
            order_by=(DatasetVersion.created_at.desc(), DatasetVersion.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(*_VERSION_COLUMNS, rank).where(DatasetVersion.dataset_id.in_(dataset_ids)).subquery()
    )
    stmt = select(*(ranked.c[c.key] for c in _VERSION_COLUMNS)).where(ranked.c.rank == 1)
    return list(session.execute(stmt))


def runs_by_ids(session: Session, run_ids: Collection[str]) -> list[Any]:
    """Return stored runs (every column) for the given run ids."""
    if not run_ids:
        return []
    stmt = select(
        Run.run_id,
        Run.job_id,
        Run.state,
        Run.state_time,
        Run.started_at,
        Run.ended_at,
        Run.facets,
        Run.job_facets,
    ).where(Run.run_id.in_(run_ids))
    return list(session.execute(stmt))


def run_edges(
    session: Session, edge: type[RunInput] | type[RunOutput], run_ids: Collection[str]
) -> dict[tuple[str, int], tuple[int, str]]:
    """Return (dataset version id, version source) keyed by (run id, dataset id)."""
    if not run_ids:
        return {}
    stmt = select(edge.run_id, edge.dataset_id, edge.dataset_version_id, edge.version_source)
    rows = session.execute(stmt.where(edge.run_id.in_(run_ids)))
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


def insert_rows(session: Session, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows with one executemany of a Core statement (no ORM bookkeeping, no RETURNING).

    Ids of new rows are read back by key (``jobs_by_keys``, ``versions_by_keys``): a multi-row
    INSERT ... RETURNING costs more to build and parse on the client than the indexed SELECT.
    """
    if rows:
        session.connection().execute(insert(model.__table__), list(rows))  # type: ignore[arg-type]


def update_by_pk(session: Session, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """Update rows by primary key (each mapping holds the key and the changed columns)."""
    if rows:
        session.execute(update(model), list(rows))
