"""Reads of Feast's SQLite online tables, without Feast: its table, its query, its decoding.

Feast's SQLite store keeps one table per feature view, ``<project>_<view>`` (Skewless never
turns on Feast's online view versioning), with a row per (serialized entity key, feature):
the serialized ``Value`` and the row's event time in whole epoch seconds. The query is Feast's own
``online_read`` query, and the rows are grouped and read as it reads them, so the answer is
the one Feast's reader gives; ``_ts:<view>`` (microseconds, written by
:class:`services.online.stores.sqlite.SqliteOnline`) then gives the exact event time.
``tests/integration/test_serving_plan.py`` compares the two readers on every type.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.online.codec import decode_column
from services.online.keys import from_epoch_micros, serialized_key, ts_key
from services.online.value_proto import parse_value
from services.reads import ViewRead

Key = tuple[Any, ...]
Stored = tuple[datetime | None, dict[str, Any] | None]


def table_name(project: str, view: str) -> str:
    """Feast's SQLite online table of a view (``compute_table_id`` without versioning)."""
    return f"{project}_{view}"


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _event_time(stored: Any) -> datetime:
    """The ``event_ts`` column as Feast's reader gives it.

    Feast's SQLite module stores instants as epoch seconds and converts them back with
    ``datetime.fromtimestamp`` (a naive local time), which its reader then calls UTC.
    """
    if isinstance(stored, int | float) or str(stored).lstrip("-").isdigit():
        moment = datetime.fromtimestamp(int(stored))
    else:  # ISO text, as other writers store it
        moment = datetime.fromisoformat(str(stored))
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class SqliteReader:
    """One SQLite online store file, read-only; create once per process and reuse."""

    def __init__(self, path: Path, project: str) -> None:
        self.path = path
        self.project = project
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        with self._lock:
            if self._conn is None:
                # As Feast opens it (the file is created when missing), minus its type parsing.
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(self.path, check_same_thread=False)
            return self._conn

    def read(self, read: ViewRead, keys: Sequence[Key]) -> list[Stored]:
        """Stored (event time, {feature: value}) per key; (None, None) when absent."""
        serialized = [serialized_key(read.key_columns, k) for k in keys]
        table = _quoted(table_name(self.project, read.view))
        try:
            rows = (
                self._connection()
                .execute(
                    f"SELECT entity_key, feature_name, value, event_ts FROM {table} "
                    f"WHERE entity_key IN ({','.join('?' * len(serialized))}) ORDER BY entity_key",
                    serialized,
                )
                .fetchall()
            )
        except sqlite3.OperationalError as exc:
            if not str(exc).startswith("no such table"):
                raise
            # Nothing was ever written to this file for the view (it was replaced after apply):
            # every entity is absent, as in a Redis that holds none of its keys.
            rows = []
        grouped = {k: list(g) for k, g in itertools.groupby(rows, key=lambda r: r[0])}
        types = {f.name: f.type for f in read.features}
        stamp = ts_key(read.view)
        out: list[Stored] = []
        for key in serialized:
            found = grouped.get(key)
            if not found:
                out.append((None, None))
                continue
            values = {name: parse_value(raw) for _, name, raw, _ in found}
            ts = _event_time(found[-1][3])
            exact = values.get(stamp)
            if exact is not None and exact.WhichOneof("val") == "int64_val":
                ts = from_epoch_micros(exact.int64_val)
            decoded = {
                n: decode_column([v.SerializeToString()], types[n])[0]
                for n, v in values.items()
                if n in types
            }
            out.append((ts, decoded))
        return out

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
