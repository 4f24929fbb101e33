"""SQL of the intake write path: set-based reads and writes for a whole batch of events.

Every function takes a ``Session`` and whole key sets, so one batch of events costs a fixed number
of statements however many events, jobs or datasets it holds. Callers own the transaction and
hold ``lock_intake`` for it, which makes read-then-write safe across processes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import BigInteger, Select, Text, and_, any_, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from lineage.db import raw
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


# Statements are built once: executing a prebuilt statement skips building and hashing it again.
# Each read has two forms. Generic: an "expanding" IN list (SQLite). PostgreSQL: the keys as
# arrays, so the text is constant (prepared once, one index probe per key; an IN list has a new
# text, parse and plan for every batch size) and it runs on psycopg directly (``lineage.db.raw``).
_TEXTS, _IDS = ARRAY(Text), ARRAY(BigInteger)


def _in(column: Any) -> Any:
    return column.in_(bindparam("keys", expanding=True))


def _any(column: Any, kind: ARRAY[Any]) -> Any:
    return column == any_(bindparam("keys", type_=kind))


def _pairs(stmt: Select[Any], first: Any, second: Any, kinds: tuple[Any, Any]) -> Select[Any]:
    """``stmt`` restricted to (first, second) pairs given as two arrays ``a`` and ``b``."""
    pairs = (
        func.unnest(bindparam("a", type_=ARRAY(kinds[0])), bindparam("b", type_=ARRAY(kinds[1])))
        .table_valued("a", "b")
        .render_derived("pairs")
    )
    return stmt.join(pairs, and_(first == pairs.c.a, second == pairs.c.b))


_JOB_COLUMNS = (Job.namespace, Job.name, Job.id, Job.facets)
_DATASET_COLUMNS = (Dataset.namespace, Dataset.name, Dataset.id, Dataset.facets)
_VERSION_COLUMNS = (
    DatasetVersion.id,
    DatasetVersion.dataset_id,
    DatasetVersion.version,
    DatasetVersion.version_source,
    DatasetVersion.facets,
    DatasetVersion.created_at,
)
_RUN_COLUMNS = (
    Run.run_id,
    Run.job_id,
    Run.state,
    Run.state_time,
    Run.started_at,
    Run.ended_at,
    Run.facets,
    Run.job_facets,
)


def _latest(where: Any) -> Select[Any]:
    rank = func.row_number().over(
        partition_by=DatasetVersion.dataset_id,
        order_by=(DatasetVersion.created_at.desc(), DatasetVersion.id.desc()),
    )
    ranked = select(*_VERSION_COLUMNS, rank.label("rank")).where(where).subquery()
    return select(*(ranked.c[c.key] for c in _VERSION_COLUMNS)).where(ranked.c.rank == 1)


def _edges(edge: type[RunInput] | type[RunOutput]) -> Any:
    return select(edge.run_id, edge.dataset_id, edge.dataset_version_id, edge.version_source)


_LOCK = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))
_HASHES = select(LineageEvent.event_hash)
_READS: dict[str, tuple[Select[Any], Select[Any]]] = {
    "hashes": (
        _HASHES.where(_in(LineageEvent.event_hash)),
        _HASHES.where(_any(LineageEvent.event_hash, _TEXTS)),
    ),
    "jobs": (
        select(*_JOB_COLUMNS).where(_in(tuple_(Job.namespace, Job.name))),
        _pairs(select(*_JOB_COLUMNS), Job.namespace, Job.name, (Text, Text)),
    ),
    "datasets": (
        select(*_DATASET_COLUMNS).where(_in(tuple_(Dataset.namespace, Dataset.name))),
        _pairs(select(*_DATASET_COLUMNS), Dataset.namespace, Dataset.name, (Text, Text)),
    ),
    "versions": (
        select(*_VERSION_COLUMNS).where(
            _in(tuple_(DatasetVersion.dataset_id, DatasetVersion.version))
        ),
        _pairs(
            select(*_VERSION_COLUMNS),
            DatasetVersion.dataset_id,
            DatasetVersion.version,
            (BigInteger, Text),
        ),
    ),
    "latest": (
        _latest(_in(DatasetVersion.dataset_id)),
        _latest(_any(DatasetVersion.dataset_id, _IDS)),
    ),
    "runs": (
        select(*_RUN_COLUMNS).where(_in(Run.run_id)),
        select(*_RUN_COLUMNS).where(_any(Run.run_id, _TEXTS)),
    ),
    **{
        f"edges:{edge.__tablename__}": (
            _edges(edge).where(_in(edge.run_id)),
            _edges(edge).where(_any(edge.run_id, _TEXTS)),
        )
        for edge in (RunInput, RunOutput)
    },
}
_PAIRED = frozenset({"jobs", "datasets", "versions"})


def _rows(session: Session, read: str, keys: Collection[Any]) -> Sequence[Any]:
    generic, postgresql = _READS[read]
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return connection.execute(generic, {"keys": list(keys)}).all()
    unique = list(dict.fromkeys(keys))
    if read in _PAIRED:
        return raw.execute(
            session, postgresql, {"a": [k[0] for k in unique], "b": [k[1] for k in unique]}
        )
    return raw.execute(session, postgresql, {"keys": unique})


def lock_intake(session: Session) -> None:
    """Serialize intake writers until the transaction ends.

    PostgreSQL takes a transaction-scoped advisory lock; SQLite already serializes writers
    (``BEGIN IMMEDIATE``, see ``lineage.db.session``).
    """
    if session.connection().dialect.name == "postgresql":
        raw.execute(session, _LOCK, {"key": INTAKE_LOCK_KEY})


def stored_event_hashes(session: Session, hashes: Collection[str]) -> set[str]:
    """Return which of ``hashes`` are already stored."""
    if not hashes:
        return set()
    return {row[0] for row in _rows(session, "hashes", hashes)}


def jobs_by_keys(session: Session, keys: Collection[Key]) -> dict[Key, tuple[int, dict[str, Any]]]:
    """Return (id, facets) of stored jobs keyed by (namespace, name)."""
    if not keys:
        return {}
    return {(ns, name): (id_, facets) for ns, name, id_, facets in _rows(session, "jobs", keys)}


def datasets_by_keys(
    session: Session, keys: Collection[Key]
) -> dict[Key, tuple[int, dict[str, Any]]]:
    """Return (id, facets) of stored datasets keyed by (namespace, name)."""
    if not keys:
        return {}
    rows = _rows(session, "datasets", keys)
    return {(ns, name): (id_, facets) for ns, name, id_, facets in rows}


def versions_by_keys(session: Session, keys: Collection[tuple[int, str]]) -> Sequence[Any]:
    """Return stored dataset versions for (dataset id, version) keys."""
    if not keys:
        return []
    return _rows(session, "versions", keys)


def latest_versions(session: Session, dataset_ids: Collection[int]) -> Sequence[Any]:
    """Return, per dataset, its most recently created version (created_at, then id)."""
    if not dataset_ids:
        return []
    return _rows(session, "latest", dataset_ids)


def runs_by_ids(session: Session, run_ids: Collection[str]) -> Sequence[Any]:
    """Return stored runs (every column) for the given run ids."""
    if not run_ids:
        return []
    return _rows(session, "runs", run_ids)


def run_edges(
    session: Session, edge: type[RunInput] | type[RunOutput], run_ids: Collection[str]
) -> dict[tuple[str, int], tuple[int, str]]:
    """Return (dataset version id, version source) keyed by (run id, dataset id)."""
    if not run_ids:
        return {}
    rows = _rows(session, f"edges:{edge.__tablename__}", run_ids)
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
