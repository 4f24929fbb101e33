"""SQL of the intake write path: everything a batch of events reads, in one statement.

A batch names what it touches (``BatchKeys``: event hashes, jobs, datasets, versions, runs, the
callers' tokens) and gets back every stored row of those (``BatchReads``). On PostgreSQL the
read is one statement with a constant text, prepared once, right after the intake lock: the keys
travel as one JSON document, versions, runs and callers are found by natural key in the same
statement, ids for the batch's new rows are reserved from the sequences, and the audit chain's
head is locked there too. The intake writer's time was mostly round trips and per-statement
overhead, so two statements instead of a dozen is what makes it fast. Elsewhere (SQLite) each
table is read with its own prebuilt statement. ``lock_and_read`` serializes intake writers for
the rest of the transaction, which the caller owns; that is what makes read-then-write safe
across processes.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Select, bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from lineage.db import access_sql, raw
from lineage.db.access_sql import lock_audit_head
from lineage.db.intake_batch import (
    EDGES,
    RESERVED,
    BatchKeys,
    BatchReads,
    RunFound,
    VersionFound,
)
from lineage.db.models import (
    ColumnLineage,
    Dataset,
    DatasetVersion,
    Job,
    LineageEvent,
    Run,
)

# Any constant shared by every intake writer; pg_advisory_xact_lock releases it at commit.
INTAKE_LOCK_KEY = 0x5EE71E55


def lock_and_read(session: Session, keys: BatchKeys) -> BatchReads:
    """Serialize intake writers until the transaction ends, then read every row ``keys`` names.

    PostgreSQL takes a transaction-scoped advisory lock, then reads everything, the callers of
    the batch's tokens included, with one statement (begun once the lock is held, so it sees
    what the previous writer committed). SQLite already serializes writers (``BEGIN IMMEDIATE``,
    see ``lineage.db.session``) and reads table by table.
    """
    if session.connection().dialect.name != "postgresql":
        reads = _read_generic(session, keys)
        reads.callers = access_sql.callers(session, keys.tokens)
        return reads
    # Two statements: the read must start after the lock is granted, to see the last commit.
    raw.execute(session, _LOCK, {"key": INTAKE_LOCK_KEY})
    ((text,),) = raw.execute_text(session, _READ_PG, {"keys": json.dumps(_document(keys))})
    return _reads_postgresql(session, keys, text)


# --- PostgreSQL: one statement ------------------------------------------------------------------

_LOCK = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))

_VERSION_JSON = (
    "json_build_array(v.id, v.dataset_id, v.version, v.version_source, v.facets, v.created_at)"
)
_RUN_JSON = (
    "json_build_array(r.run_id, r.job_id, r.state, r.state_time, r.started_at, r.ended_at, "
    "r.facets, r.job_facets)"
)


def _agg(expr: str, source: str) -> str:
    return f"(SELECT coalesce(json_agg({expr}), '[]') FROM {source})"


def _keys(name: str, *columns: str) -> str:
    """A CTE ``<name>_keys``: the rows of one key list of the ``keys`` document, parsed once."""
    picks = ", ".join(f"e->>{i} AS {column}" for i, column in enumerate(columns)) or "e AS key"
    source = "jsonb_array_elements" if columns else "jsonb_array_elements_text"
    return f"{name}_keys AS MATERIALIZED (SELECT {picks} FROM q, {source}(q.k->'{name}') e)"


def _reserve(table: str, new: str) -> str:
    """Ids for the batch's new rows of ``table``: at most ``new`` (keys minus stored rows)."""
    return _agg(
        # The sequence is looked up once (an InitPlan), not once per id.
        f"nextval((SELECT pg_get_serial_sequence('{table}', 'id')))",
        f"generate_series(1, ({new})::int)",
    )


def _count(cte: str) -> str:
    return f"(SELECT count(*) FROM {cte})"


# A new job or dataset for every key not stored; a new version for every version named and not
# stored, and for every dataset mentioned without a version that has none yet.
_NEW = {
    "jobs": f"{_count('jobs_keys')} - {_count('found_jobs')}",
    "datasets": f"{_count('datasets_keys')} - {_count('found_datasets')}",
    "dataset_versions": f"{_count('versions_keys')} - {_count('found_versions')} "
    f"+ {_count('latest_keys')} - {_count('found_latest')}",
}


def _edges_sql(table: str) -> str:
    return _agg(
        "json_build_array(e.run_id, e.dataset_id, e.dataset_version_id, e.version_source)",
        f"found_runs r CROSS JOIN LATERAL "
        f"(SELECT * FROM {table} x WHERE x.run_id = r.run_id OFFSET 0) e",
    )


_SELECTS = (
    _agg(
        "e.event_hash",
        "hashes_keys k CROSS JOIN LATERAL "
        "(SELECT x.event_hash FROM lineage_events x WHERE x.event_hash = k.key LIMIT 1) e",
    ),
    _agg("json_build_array(j.namespace, j.name, j.id, j.facets)", "found_jobs j"),
    _agg("json_build_array(d.namespace, d.name, d.id, d.facets)", "found_datasets d"),
    _agg(_VERSION_JSON, "found_versions v"),
    _agg(_VERSION_JSON, "found_latest v"),
    _agg(_RUN_JSON, "found_runs r"),
    *(_edges_sql(edge.__tablename__) for edge in EDGES),
    _agg(
        "json_build_array(c.dataset_version_id, c.output_field, c.input_namespace, "
        "c.input_name, c.input_field)",
        "column_versions v CROSS JOIN LATERAL "
        "(SELECT * FROM column_lineage x WHERE x.dataset_version_id = v.id OFFSET 0) c",
    ),
    *(_reserve(model.__tablename__, _NEW[model.__tablename__]) for model in RESERVED),
    _agg(
        "json_build_array(c.token_hash, c.name, c.role, c.namespace)",
        f"({access_sql.callers_sql('SELECT key FROM tokens_keys')}) c",
    ),
    "(SELECT json_build_array(h.last_id, h.last_hash) FROM audit_heads h "
    "WHERE h.id = 1 AND (SELECT (q.k->>'audit')::boolean FROM q) FOR UPDATE)",
)
_KEYS = (
    _keys("hashes"),
    _keys("jobs", "ns", "name"),
    _keys("datasets", "ns", "name"),
    _keys("versions", "ns", "name", "version"),
    _keys("latest", "ns", "name"),
    _keys("runs"),
    _keys("columns", "ns", "name"),
    _keys("tokens"),
)
# The keys travel as one JSON document (psycopg dumps a str in C, but a text[] element by
# element in Python), and the answer comes back as one JSON array. The document gives the
# planner no row counts to specialize on, so PostgreSQL settles on one generic plan instead of
# planning every batch anew; each key list is parsed once (MATERIALIZED) however often it is used.
# That plan guesses 100 keys a list, and against a table of a few ten thousand rows it would
# rather scan the table than probe its index 100 times; a batch has a few keys, so every lookup
# is a LATERAL subquery the planner cannot flatten (LIMIT 1 on a unique key, OFFSET 0 where a
# key has several rows): one index probe per key, whatever the tables' sizes.
_READ_PG = f"""
WITH q AS (SELECT %(keys)s::jsonb AS k), {", ".join(_KEYS)}, found_jobs AS MATERIALIZED (
    SELECT j.* FROM jobs_keys k CROSS JOIN LATERAL (
        SELECT x.namespace, x.name, x.id, x.facets FROM jobs x
        WHERE x.namespace = k.ns AND x.name = k.name LIMIT 1
    ) j
), found_datasets AS MATERIALIZED (
    SELECT d.* FROM datasets_keys k CROSS JOIN LATERAL (
        SELECT x.id, x.namespace, x.name, x.facets FROM datasets x
        WHERE x.namespace = k.ns AND x.name = k.name LIMIT 1
    ) d
), found_versions AS MATERIALIZED (
    SELECT v.* FROM versions_keys k
    JOIN found_datasets d ON d.namespace = k.ns AND d.name = k.name
    CROSS JOIN LATERAL (
        SELECT * FROM dataset_versions x WHERE x.dataset_id = d.id AND x.version = k.version
        LIMIT 1
    ) v
), found_latest AS MATERIALIZED (
    SELECT v.* FROM latest_keys k
    JOIN found_datasets d ON d.namespace = k.ns AND d.name = k.name
    CROSS JOIN LATERAL (
        SELECT * FROM dataset_versions x WHERE x.dataset_id = d.id
        ORDER BY x.created_at DESC, x.id DESC LIMIT 1
    ) v
), found_runs AS MATERIALIZED (
    SELECT r.* FROM runs_keys k
    CROSS JOIN LATERAL (SELECT * FROM runs x WHERE x.run_id = k.key LIMIT 1) r
), column_versions AS (
    SELECT v.id FROM columns_keys k
    JOIN found_datasets d ON d.namespace = k.ns AND d.name = k.name
    JOIN (SELECT * FROM found_versions UNION ALL SELECT * FROM found_latest) v
        ON v.dataset_id = d.id
)
SELECT json_build_array(
    {", ".join(_SELECTS)}
)::text"""


def _document(keys: BatchKeys) -> dict[str, Any]:
    return {  # each list without repeats: the counts of new rows rely on it
        "hashes": list(set(keys.hashes)),
        "jobs": list(set(keys.jobs)),
        "datasets": list(set(keys.datasets)),
        "versions": list(set(keys.versions)),
        "latest": list(set(keys.latest)),
        "runs": list(set(keys.runs)),
        "columns": list(set(keys.columns)),
        "tokens": list(set(keys.tokens)),
        "audit": keys.audit_head,
    }


def _reads_postgresql(session: Session, keys: BatchKeys, text: str) -> BatchReads:
    hashes, jobs, datasets, found, latest, runs, inputs, outputs, columns, *rest = json.loads(text)
    *ids, callers, head = rest
    if keys.audit_head and head is None:  # no head row yet: create it
        head = lock_audit_head(session)
    return BatchReads(
        hashes=set(hashes),
        jobs={(ns, name): (id_, facets) for ns, name, id_, facets in jobs},
        datasets={(ns, name): (id_, facets) for ns, name, id_, facets in datasets},
        versions=[_version(v) for v in found],
        latest=[_version(v) for v in latest],
        runs=[_run(r) for r in runs],
        edges={
            edge: [(run, ds, dv, source) for run, ds, dv, source in items]
            for edge, items in zip(EDGES, (inputs, outputs), strict=True)
        },
        columns={tuple(c) for c in columns},
        ids={m: sorted(found_ids) for m, found_ids in zip(RESERVED, ids, strict=True)},
        audit_head=(int(head[0]), str(head[1])) if head is not None else None,
        callers=access_sql.callers_of(callers),
    )


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _version(item: Sequence[Any]) -> VersionFound:
    id_, dataset_id, version, source, facets, created_at = item
    return VersionFound(
        id_, dataset_id, version, source, facets, datetime.fromisoformat(created_at)
    )


def _run(item: Sequence[Any]) -> RunFound:
    run_id, job_id, state, state_time, started, ended, facets, job_facets = item
    return RunFound(
        run_id,
        job_id,
        state,
        datetime.fromisoformat(state_time),
        _time(started),
        _time(ended),
        facets,
        job_facets,
    )


# --- SQLite (and any other database): one prebuilt statement per table -------------------------


def _in(column: Any) -> Any:
    return column.in_(bindparam("keys", expanding=True))


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


_READS: dict[str, Any] = {
    "hashes": select(LineageEvent.event_hash).where(_in(LineageEvent.event_hash)),
    "jobs": select(*_JOB_COLUMNS).where(_in(tuple_(Job.namespace, Job.name))),
    "datasets": select(*_DATASET_COLUMNS).where(_in(tuple_(Dataset.namespace, Dataset.name))),
    "versions": select(*_VERSION_COLUMNS).where(
        _in(tuple_(DatasetVersion.dataset_id, DatasetVersion.version))
    ),
    "latest": _latest(_in(DatasetVersion.dataset_id)),
    "runs": select(*_RUN_COLUMNS).where(_in(Run.run_id)),
    "columns": select(
        ColumnLineage.dataset_version_id,
        ColumnLineage.output_field,
        ColumnLineage.input_namespace,
        ColumnLineage.input_name,
        ColumnLineage.input_field,
    ).where(_in(ColumnLineage.dataset_version_id)),
    **{
        f"edges:{edge.__tablename__}": select(
            edge.run_id, edge.dataset_id, edge.dataset_version_id, edge.version_source
        ).where(_in(edge.run_id))
        for edge in EDGES
    },
}


def _rows(session: Session, read: str, keys: Collection[Any]) -> Sequence[Any]:
    if not keys:
        return []
    return session.connection().execute(_READS[read], {"keys": list(keys)}).all()


def _read_generic(session: Session, keys: BatchKeys) -> BatchReads:
    jobs = {
        (ns, name): (id_, facets) for ns, name, id_, facets in _rows(session, "jobs", keys.jobs)
    }
    datasets = {
        (ns, name): (id_, facets)
        for ns, name, id_, facets in _rows(session, "datasets", keys.datasets)
    }
    wanted = {
        (datasets[(ns, name)][0], v) for ns, name, v in keys.versions if (ns, name) in datasets
    }
    versions = [VersionFound(*row) for row in _rows(session, "versions", wanted)]
    latest_of = [datasets[key][0] for key in keys.latest if key in datasets]
    latest = [VersionFound(*row) for row in _rows(session, "latest", latest_of)]
    runs = [RunFound(*row) for row in _rows(session, "runs", keys.runs)]
    stored_runs = [run.run_id for run in runs]
    edges = {
        edge: [
            (run, ds, dv, source)
            for run, ds, dv, source in _rows(session, f"edges:{edge.__tablename__}", stored_runs)
        ]
        for edge in EDGES
    }
    column_ds = {datasets[key][0] for key in keys.columns if key in datasets}
    column_versions = {v.id for v in (*versions, *latest) if v.dataset_id in column_ds}
    head = lock_audit_head(session) if keys.audit_head else None
    return BatchReads(
        hashes={row[0] for row in _rows(session, "hashes", keys.hashes)},
        jobs=jobs,
        datasets=datasets,
        versions=versions,
        latest=latest,
        runs=runs,
        edges=edges,
        columns={tuple(row) for row in _rows(session, "columns", column_versions)},
        ids=None,
        audit_head=head,
    )
