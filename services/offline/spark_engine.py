"""The point-in-time rule in Spark SQL, over the same dataset-version parquet files.

The same rule as :mod:`services.offline.engine` (greatest event time <= T, ties by created
time then dataset version, rows created after T invisible, ttl inclusive), written for Spark:
one :class:`SparkEngine` per call site, sharing the process's one SparkSession.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from uuid import uuid4

import pyarrow as pa
import pyarrow.parquet as pq

from services.offline.datasets import list_versions
from services.offline.engine import ENTITY_TS
from services.offline.temporaries import temporary_for
from services.resolution import ViewRead

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from services.settings import Settings

_lock = threading.Lock()
_BATCH_ROWS = 50_000


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


_LOG_CONFIG = Path(__file__).with_name("spark_log4j2.properties")


def spark_session(master: str, conf: dict[str, str]) -> SparkSession:
    """The process's SparkSession (created once; UTC, Arrow transfers, UI off by default).

    Spark's console progress bars and its JVM's WARN lines stay off a command's stderr
    (errors still show); a repository's ``spark_conf`` overrides any of these defaults.
    """
    from pyspark.sql import SparkSession

    with _lock:
        builder = SparkSession.builder.master(master).appName("skewless")
        defaults = {
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{_LOG_CONFIG}",
        }
        for key, value in {**defaults, **conf}.items():
            builder = builder.config(key, value)
        return builder.getOrCreate()


def _source_columns(read: ViewRead) -> list[str]:
    event = f"s.{_q(read.event_ts)}"
    created = f"s.{_q(read.created_ts)}" if read.created_ts else event
    cols = [f"s.{_q(k.name)}" for k in read.keys]
    cols += [f"{event} AS event_timestamp", f"coalesce({created}, {event}) AS created_timestamp"]
    keys = {k.name for k in read.keys}
    cols += [f"s.{_q(f.name)}" for f in read.features if f.name not in keys]
    return list(dict.fromkeys(cols))


class SparkEngine:
    """Spark SQL over the version parquet files of one offline directory."""

    def __init__(self, offline_dir: Path, spark: SparkSession) -> None:
        self.offline_dir = offline_dir
        self.spark = spark
        self._views: list[str] = []

    def _name(self, prefix: str) -> str:
        name = f"_skewless_{prefix}_{id(self):x}_{len(self._views)}"
        self._views.append(name)
        return name

    def _register(self, read: ViewRead) -> tuple[str, list[str]]:
        """A temp view of every version with ``_seq`` (the empty shape when there are none)."""
        versions = list_versions(self.offline_dir, read.source)
        alias = self._name("src")
        if not versions:
            fields = [pa.field(k.name, k.type.arrow()) for k in read.keys]
            fields += [
                pa.field("event_timestamp", pa.timestamp("us", tz="UTC")),
                pa.field("created_timestamp", pa.timestamp("us", tz="UTC")),
            ]
            keys = {k.name for k in read.keys}
            fields += [pa.field(f.name, pa.int64()) for f in read.features if f.name not in keys]
            fields.append(pa.field("_seq", pa.int64()))
            self.spark.createDataFrame(pa.schema(fields).empty_table()).createOrReplaceTempView(
                alias
            )
            return alias, []
        raw = self._name("raw")
        seq = self._name("seq")
        self.spark.read.parquet(*[v.path for v in versions]).select(
            "*", "_metadata.file_name"
        ).createOrReplaceTempView(raw)
        names = pa.table(
            {
                "file_name": [Path(v.path).name for v in versions],
                "_seq": pa.array(range(1, len(versions) + 1), pa.int64()),
            }
        )
        self.spark.createDataFrame(names).createOrReplaceTempView(seq)
        self.spark.sql(
            f"SELECT {', '.join(_source_columns(read))}, q._seq FROM {raw} s "
            f"JOIN {seq} q ON s.file_name = q.file_name"
        ).createOrReplaceTempView(alias)
        return alias, [v.version for v in versions]

    def join(self, entities: pa.Table, read: ViewRead) -> tuple[pa.Table, list[str]]:
        src, versions = self._register(read)
        ent = self._name("entities")
        self.spark.createDataFrame(entities).createOrReplaceTempView(ent)
        ts = f"e.{ENTITY_TS}"
        on = " AND ".join(f"s.{_q(k.name)} = e.{_q(k.column)}" for k in read.keys)
        ttl = ""
        if read.ttl.total_seconds() > 0:
            micros = int(read.ttl.total_seconds() * 1_000_000)
            ttl = f" AND unix_micros(s.event_timestamp) >= unix_micros({ts}) - {micros}"
        feats = ", ".join(_q(f.name) for f in read.features)
        sql = f"""
            SELECT _row, {_q("_ts:" + read.alias)}, {feats} FROM (
                SELECT e._row, s.event_timestamp AS {_q("_ts:" + read.alias)},
                       {", ".join(f"s.{_q(f.name)}" for f in read.features)},
                       row_number() OVER (
                           PARTITION BY e._row
                           ORDER BY s.event_timestamp DESC NULLS LAST,
                                    s.created_timestamp DESC NULLS LAST,
                                    s._seq DESC NULLS LAST) AS _rank
                FROM {ent} e
                LEFT JOIN {src} s
                  ON {on}
                 AND s.event_timestamp <= {ts}
                 AND s.created_timestamp <= {ts}{ttl}
            ) WHERE _rank = 1 ORDER BY _row
        """
        return self._arrow(self.spark.sql(sql), read), versions

    def _arrow(self, frame: DataFrame, read: ViewRead) -> pa.Table:
        """The result as Arrow, null-typed columns (a source with no data) cast per feature."""
        table = frame.toArrow()
        for f in read.features:
            i = table.schema.get_field_index(f.name)
            if i >= 0 and pa.types.is_null(table.schema.field(i).type):
                table = table.set_column(i, f.name, pa.nulls(len(table), f.type.arrow()))
        return table

    def latest(
        self, read: ViewRead, at: datetime, *, keys: Sequence[tuple[Any, ...]] | None = None
    ) -> tuple[list[str], Iterator[pa.RecordBatch]]:
        src, versions = self._register(read)
        if not versions or (keys is not None and not keys):
            return versions, iter(())
        names = [_q(k.name) for k in read.keys]
        cols = ", ".join(f"s.{n}" for n in names)
        feats = ", ".join(f"s.{_q(f.name)}" for f in read.features)
        instant = f"timestamp_micros({_micros(at)})"
        where = f"s.event_timestamp <= {instant} AND s.created_timestamp <= {instant}"
        join = ""
        if keys is not None:
            wanted = self._name("keys")
            table = pa.table(
                {
                    k.name: pa.array([row[i] for row in keys], k.type.arrow())
                    for i, k in enumerate(read.keys)
                }
            )
            self.spark.createDataFrame(table).createOrReplaceTempView(wanted)
            on = " AND ".join(f"s.{n} = w.{n}" for n in names)
            join = f"LEFT SEMI JOIN {wanted} w ON {on}"
        sql = f"""
            SELECT {", ".join(names)}, event_timestamp, created_timestamp,
                   {", ".join(_q(f.name) for f in read.features)} FROM (
                SELECT {cols}, s.event_timestamp, s.created_timestamp, {feats},
                       row_number() OVER (
                           PARTITION BY {cols}
                           ORDER BY s.event_timestamp DESC, s.created_timestamp DESC,
                                    s._seq DESC) AS _rank
                FROM {src} s {join}
                WHERE {where}
            ) WHERE _rank = 1
        """
        return versions, self._spilled(self.spark.sql(sql))

    def _spilled(self, frame: DataFrame) -> Iterator[pa.RecordBatch]:
        """Rows the executors write to a parquet folder on the data volume, read back in batches.

        Collecting the answer would hold every entity's latest row in the driver at once; this
        way the driver holds one batch, whatever the number of entities.
        """
        folder = temporary_for(self.offline_dir.parent / ".spark-spill" / f"latest-{uuid4().hex}")
        # Timestamps as UTC microseconds (Spark's default INT96 loses the zone and reads as ns).
        self.spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        try:
            frame.write.parquet(str(folder))
            for part in sorted(folder.glob("part-*.parquet")):
                yield from pq.ParquetFile(part).iter_batches(batch_size=_BATCH_ROWS)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def entity_keys(self, read: ViewRead) -> list[tuple[Any, ...]]:
        src, versions = self._register(read)
        if not versions:
            return []
        cols = ", ".join(_q(k.name) for k in read.keys)
        rows = self.spark.sql(f"SELECT DISTINCT {cols} FROM {src}").collect()
        return sorted(tuple(r) for r in rows)

    def keys_in(
        self,
        read: ViewRead,
        files: Sequence[str],
        window: tuple[datetime, datetime] | None = None,
    ) -> list[tuple[Any, ...]]:
        if not files:
            return []
        frame = self.spark.read.parquet(*files)
        if window is not None:
            event = _q(read.event_ts)
            start, end = (f"timestamp_micros({_micros(t)})" for t in window)
            frame = frame.where(f"{event} BETWEEN {start} AND {end}")
        rows = frame.select(*[_q(k.name) for k in read.keys]).distinct().collect()
        return [tuple(r) for r in rows]

    def newest_times(self, read: ViewRead, files: Sequence[str]) -> dict[str, datetime | None]:
        found: dict[str, datetime | None] = {f: None for f in files}
        if not files:
            return found
        event = _q(read.event_ts)
        created = f"coalesce({_q(read.created_ts)}, {event})" if read.created_ts else event
        by_name = {Path(f).name: f for f in files}
        table = (
            self.spark.read.parquet(*files)
            .selectExpr("_metadata.file_name AS file_name", f"greatest({event}, {created}) AS t")
            .groupBy("file_name")
            .agg({"t": "max"})
            .toArrow()
        )
        # Through Arrow, so instants stay aware UTC (collect() would give local naive times).
        names, times = table.column(0).to_pylist(), table.column(1).to_pylist()
        for name, newest in zip(names, times, strict=True):
            found[by_name[str(name)]] = newest
        return found

    def close(self) -> None:
        for name in self._views:
            self.spark.catalog.dropTempView(name)
        self._views.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def _micros(at: datetime) -> int:
    """Microseconds since the epoch of an aware instant (exact, no float rounding)."""
    from datetime import UTC

    delta = at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def spark_engine(settings: Settings) -> SparkEngine:
    """A Spark engine over the settings' offline directory, on the shared session."""
    return SparkEngine(
        settings.offline_dir, spark_session(settings.spark_master, settings.spark_conf)
    )
