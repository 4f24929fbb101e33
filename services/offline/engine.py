"""Point-in-time reads over dataset versions, in DuckDB.

One rule, used by training sets, materialization and the parity audit: the value
of entity *e* at time *T* is the row of *e* with the greatest ``event_timestamp``
<= *T*, ties broken by the greatest ``created_timestamp`` and then by the later
dataset version; rows created after *T* are invisible at *T*; the value is null
when that row's event time is before ``T - ttl`` (both bounds inclusive).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from services.offline.datasets import list_versions
from services.resolution import ViewRead

ENTITY_TS = "event_timestamp"


def connect(threads: int | None = None, memory_limit: str = "2GB") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC with a memory cap, so large joins spill instead of growing."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _source_columns(read: ViewRead) -> str:
    """The source's columns under the names the rule uses (keys, two timestamps, features)."""
    event = f"s.{_q(read.event_ts)}"
    created = f"s.{_q(read.created_ts)}" if read.created_ts else event
    cols = [f"s.{_q(k.name)}" for k in read.keys]
    cols += [f"{event} AS event_timestamp", f"coalesce({created}, {event}) AS created_timestamp"]
    cols += [f"s.{_q(f.name)}" for f in read.features if f.name not in {k.name for k in read.keys}]
    return ", ".join(dict.fromkeys(cols))


_SQL_TYPES = {"Int32": "INTEGER", "Int64": "BIGINT", "String": "VARCHAR"}


def register_versions(
    con: duckdb.DuckDBPyConnection, offline_dir: Path, read: ViewRead, alias: str
) -> list[str]:
    """Create view ``alias`` over every version of the source, with a ``_seq`` column.

    Timestamps appear as ``event_timestamp`` and ``created_timestamp`` whatever the source
    calls them (a source without a created column uses its event time). Returns the version
    ids read (empty when the source has no data yet).
    """
    versions = list_versions(offline_dir, read.source)
    if not versions:
        empty = [f"CAST(NULL AS {_SQL_TYPES[k.type.name]}) AS {_q(k.name)}" for k in read.keys]
        empty += [
            "CAST(NULL AS TIMESTAMPTZ) AS event_timestamp",
            "CAST(NULL AS TIMESTAMPTZ) AS created_timestamp",
        ]
        empty += [f"NULL AS {_q(f.name)}" for f in read.features]
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {alias} AS SELECT {', '.join(empty)}, 0 AS _seq "
            "WHERE false"
        )
        return []
    seq = pa.table(
        {"filename": [v.path for v in versions], "_seq": list(range(1, len(versions) + 1))}
    )
    con.register(f"{alias}_seq", seq)
    files = "[" + ", ".join("'" + v.path.replace("'", "''") + "'" for v in versions) + "]"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {alias} AS SELECT {_source_columns(read)}, q._seq "
        f"FROM read_parquet({files}, filename = true) s JOIN {alias}_seq q "
        f"ON s.filename = q.filename"
    )
    return [v.version for v in versions]


def _ttl_sql(read: ViewRead, t: str) -> str:
    if read.ttl.total_seconds() <= 0:
        return ""
    micros = int(read.ttl.total_seconds() * 1_000_000)
    return f" AND s.event_timestamp >= {t} - to_microseconds({micros})"


def point_in_time(
    con: duckdb.DuckDBPyConnection,
    entities: str,
    read: ViewRead,
    src: str,
) -> pa.Table:
    """Join one view onto the registered entity table ``entities`` (which has ``_row``).

    The entity table holds each key under its request column (a projection's key map
    applied). Returns ``_row``, ``_ts:<alias>`` and one column per feature, one row per
    entity row.
    """
    feats = ", ".join(f"s.{_q(f.name)}" for f in read.features)
    ts = f"e.{ENTITY_TS}"
    on = " AND ".join(f"s.{_q(k.name)} = e.{_q(k.column)}" for k in read.keys)
    sql = f"""
        SELECT e._row, s.event_timestamp AS {_q("_ts:" + read.alias)}, {feats}
        FROM {entities} e
        LEFT JOIN {src} s
          ON {on}
         AND s.event_timestamp <= {ts}
         AND s.created_timestamp <= {ts}{_ttl_sql(read, ts)}
        QUALIFY row_number() OVER (
            PARTITION BY e._row
            ORDER BY s.event_timestamp DESC NULLS LAST,
                     s.created_timestamp DESC NULLS LAST,
                     s._seq DESC NULLS LAST) = 1
    """
    return con.sql(sql).to_arrow_table()


def key_table(read: ViewRead, keys: Sequence[tuple[Any, ...]]) -> pa.Table:
    """Entity keys (tuples in the view's key order) as an Arrow table of stored key names."""
    return pa.table(
        {
            k.name: pa.array([row[i] for row in keys], k.type.arrow())
            for i, k in enumerate(read.keys)
        }
    )


def latest_rows(
    con: duckdb.DuckDBPyConnection,
    read: ViewRead,
    src: str,
    at: datetime,
    *,
    keys: Sequence[tuple[Any, ...]] | None = None,
    batch_rows: int = 50_000,
) -> Iterator[pa.RecordBatch]:
    """Stream the latest visible row per entity at ``at`` (no ttl filter: readers apply it).

    Args:
        con: a connection on which ``src`` is registered.
        read: the view being read.
        src: the registered source view name.
        at: the instant; rows with event or created time after it are invisible.
        keys: restrict to these entity keys, tuples in the view's key order (all when None).
        batch_rows: rows per streamed batch, which bounds memory on the Python side.

    """
    names = [_q(k.name) for k in read.keys]
    cols = ", ".join(f"s.{n}" for n in names)
    feats = ", ".join(f"s.{_q(f.name)}" for f in read.features)
    where = "s.event_timestamp <= $at AND s.created_timestamp <= $at"
    params: dict[str, object] = {"at": at}
    if keys is not None:
        con.register("_wanted_keys", key_table(read, keys))
        where += f" AND ({cols}) IN (SELECT ({', '.join(names)}) FROM _wanted_keys)"
    on = " AND ".join(f"s.{n} = n.{n}" for n in names)
    # Two phases, same rule: the newest visible event time per entity (a narrow hash
    # aggregate), then the tie-break on created time and version among the few rows holding
    # it. A window over every row and column would sort the whole source instead.
    sql = f"""
        WITH newest AS (
            SELECT {cols}, max(s.event_timestamp) AS ts
            FROM {src} s
            WHERE {where}
            GROUP BY {cols}
        )
        SELECT {cols}, s.event_timestamp, s.created_timestamp, {feats}
        FROM {src} s
        JOIN newest n ON {on} AND s.event_timestamp = n.ts
        WHERE {where}
        QUALIFY row_number() OVER (
            PARTITION BY {cols}
            ORDER BY s.created_timestamp DESC, s._seq DESC) = 1
    """
    yield from con.sql(sql, params=params).to_arrow_reader(batch_rows)


def distinct_keys(
    con: duckdb.DuckDBPyConnection, read: ViewRead, files: Sequence[str], where: str = ""
) -> list[tuple[Any, ...]]:
    """The distinct entity keys (tuples in the view's key order) in some version files."""
    if not files:
        return []
    cols = ", ".join(_q(k.name) for k in read.keys)
    sql = f"SELECT DISTINCT {cols} FROM read_parquet($files) {where}"
    return [tuple(r) for r in con.execute(sql, {"files": list(files)}).fetchall()]


def newest_times(
    con: duckdb.DuckDBPyConnection, read: ViewRead, files: Sequence[str]
) -> dict[str, datetime | None]:
    """Per version file, the latest of its rows' event and created times.

    A version's rows are all visible from that instant on (None for a file with no rows).
    """
    if not files:
        return {}
    event = _q(read.event_ts)
    created = f"coalesce({_q(read.created_ts)}, {event})" if read.created_ts else event
    sql = (
        f"SELECT filename, max(greatest({event}, {created})) "
        "FROM read_parquet($files, filename = true) GROUP BY filename"
    )
    found: dict[str, datetime | None] = {f: None for f in files}
    for name, newest in con.execute(sql, {"files": list(files)}).fetchall():
        found[str(name)] = newest
    return found


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow to pandas keeping nullable ints as ``Int64`` and bools as ``boolean``."""
    mapping = {
        pa.int64(): pd.Int64Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    return table.to_pandas(types_mapper=mapping.get)
