"""The point-in-time engine seam: what training, materialization and audits ask of an engine.

Callers hold a :class:`PointInTimeEngine` from :func:`open_engine` and never see the
engine behind it; the rule itself is documented in :mod:`services.offline.engine`.
:class:`DuckDBEngine` is the embedded implementation (one DuckDB connection per engine).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import pyarrow as pa

from services.offline import engine as duck
from services.resolution import ViewRead
from services.settings import Settings

Keys = list[tuple[Any, ...]]


class PointInTimeEngine(Protocol):
    """Point-in-time reads over the dataset versions under one offline directory."""

    def join(self, entities: pa.Table, read: ViewRead) -> tuple[pa.Table, list[str]]:
        """One view joined onto entity rows, with the version ids read.

        ``entities`` holds keys under their request columns, ``event_timestamp`` and ``_row``;
        the result has ``_row``, ``_ts:<alias>`` and the features, one row per entity row in
        ``_row`` order.
        """
        ...

    def latest(
        self, read: ViewRead, at: datetime, *, keys: Sequence[tuple[Any, ...]] | None = None
    ) -> tuple[list[str], Iterator[pa.RecordBatch]]:
        """The version ids read and the latest visible row per entity at ``at`` (no ttl)."""
        ...

    def entity_keys(self, read: ViewRead) -> Keys:
        """Every distinct entity key with data, sorted (tuples in the view's key order)."""
        ...

    def keys_in(
        self,
        read: ViewRead,
        files: Sequence[str],
        window: tuple[datetime, datetime] | None = None,
    ) -> Keys:
        """Distinct keys in some version files, optionally only rows timed inside ``window``."""
        ...

    def newest_times(self, read: ViewRead, files: Sequence[str]) -> dict[str, datetime | None]:
        """Per version file, the latest event or created time of its rows (None when empty)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...


class DuckDBEngine:
    """The embedded engine: DuckDB SQL over the version parquet files."""

    def __init__(self, offline_dir: Path, memory_limit: str = "2GB") -> None:
        self.offline_dir = offline_dir
        self._con = duck.connect(memory_limit=memory_limit)
        self._views = 0

    def _register(self, read: ViewRead) -> tuple[str, list[str]]:
        self._views += 1
        alias = f"src_{self._views}"
        return alias, duck.register_versions(self._con, self.offline_dir, read, alias)

    def join(self, entities: pa.Table, read: ViewRead) -> tuple[pa.Table, list[str]]:
        src, versions = self._register(read)
        self._con.register("entity_rows", entities)
        try:
            joined = duck.point_in_time(self._con, "entity_rows", read, src)
        finally:
            self._con.unregister("entity_rows")
        return joined.sort_by("_row"), versions

    def latest(
        self, read: ViewRead, at: datetime, *, keys: Sequence[tuple[Any, ...]] | None = None
    ) -> tuple[list[str], Iterator[pa.RecordBatch]]:
        src, versions = self._register(read)
        if not versions or (keys is not None and not keys):
            return versions, iter(())
        return versions, duck.latest_rows(self._con, read, src, at, keys=keys)

    def entity_keys(self, read: ViewRead) -> Keys:
        src, versions = self._register(read)
        if not versions:
            return []
        cols = ", ".join(f'"{k.name}"' for k in read.keys)
        rows = self._con.execute(f"SELECT DISTINCT {cols} FROM {src}").fetchall()
        return sorted(tuple(r) for r in rows)

    def keys_in(
        self,
        read: ViewRead,
        files: Sequence[str],
        window: tuple[datetime, datetime] | None = None,
    ) -> Keys:
        where = ""
        if window is not None:
            start, end = window
            where = (
                f"WHERE \"{read.event_ts}\" BETWEEN TIMESTAMPTZ '{start.isoformat()}' "
                f"AND TIMESTAMPTZ '{end.isoformat()}'"
            )
        return duck.distinct_keys(self._con, read, files, where)

    def newest_times(self, read: ViewRead, files: Sequence[str]) -> dict[str, datetime | None]:
        return duck.newest_times(self._con, read, files)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def open_engine(settings: Settings, memory_limit: str = "2GB") -> PointInTimeEngine:
    """The settings' point-in-time engine over their offline directory.

    ``memory_limit`` caps the embedded engine (it spills beyond), e.g. a streamed ingest's
    budget; a Spark cluster's memory is its own configuration.
    """
    if settings.offline_engine == "spark":
        from services.offline.spark_engine import spark_engine

        return spark_engine(settings)
    return DuckDBEngine(settings.offline_dir, memory_limit=memory_limit)
