"""Every online write: the latest rows of a view, in Feast's format.

The rows handed in are authoritative (computed by the offline engine for the
entity at the write instant), so they are written unconditionally: a correction
with the same event time and a later created time replaces the old value, which
Feast's own Redis writer would skip.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa
import redis
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from services.errors import OnlineStoreUnavailableError
from services.online.client import redis_client
from services.online.cluster import ClusterIO, routed
from services.online.codec import encode_column
from services.online.columnar import (
    bulk_timestamps,
    encode_bulk,
    hset_commands,
    redis_keys_array,
)
from services.online.keys import entity_key, epoch_micros, field_key, ts_key
from services.resolution import ViewRead
from services.store import Store

# Commands per socket write: small enough that Redis answers each chunk well within the
# socket timeout, large enough that the round trips do not matter.
CHUNK_ROWS = 4_096


class OnlineWriter:
    """Writes batches of latest rows for one store; reuse it across batches."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._redis: redis.Redis[bytes] | None = None
        self._cluster: ClusterIO | None = None
        if store.settings.online_store == "redis":
            self._redis = redis_client(store.settings)
        elif store.settings.online_store == "redis_cluster":
            self._cluster = ClusterIO(store.settings)

    def write(self, read: ViewRead, batch: pa.RecordBatch | pa.Table) -> int:
        """Write one batch (join key, event/created timestamps, features); return rows written."""
        if batch.num_rows == 0:
            return 0
        if self._redis is not None:
            self._write_redis(read, batch)
            return int(batch.num_rows)
        if self._cluster is not None:
            for start in range(0, batch.num_rows, CHUNK_ROWS):
                self._write_cluster(self._cluster, read, batch.slice(start, CHUNK_ROWS))
            return int(batch.num_rows)
        columns = [batch.column(k.name).to_pylist() for k in read.keys]
        keys = list(zip(*columns, strict=True))
        event_ts: list[datetime] = batch.column("event_timestamp").to_pylist()
        created_ts: list[datetime] = batch.column("created_timestamp").to_pylist()
        encoded = {f.name: encode_column(batch.column(f.name), f.type) for f in read.features}
        self._write_feast(read, keys, event_ts, created_ts, encoded)
        return int(batch.num_rows)

    def _write_redis(self, read: ViewRead, batch: pa.RecordBatch | pa.Table) -> None:
        """HSET every row's hash as raw RESP built column-wise, one chunk in flight.

        Chunk ``k + 1`` is encoded while Redis applies chunk ``k``, so the two overlap.
        """
        if self._redis is None:
            raise RuntimeError("a Redis write on a writer opened for SQLite")
        pool = self._redis.connection_pool
        try:
            conn = pool.get_connection()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise OnlineStoreUnavailableError(str(exc)) from exc
        try:
            in_flight = 0
            for start in range(0, batch.num_rows, CHUNK_ROWS):
                payload = self._hset_payload(read, batch.slice(start, CHUNK_ROWS))
                conn.send_packed_command([payload], check_health=False)
                for _ in range(in_flight):
                    conn.read_response()
                in_flight = min(CHUNK_ROWS, batch.num_rows - start)
            for _ in range(in_flight):
                conn.read_response()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            conn.disconnect()
            raise OnlineStoreUnavailableError(str(exc)) from exc
        except BaseException:
            conn.disconnect()  # unread replies would corrupt the next user of the connection
            raise
        finally:
            pool.release(conn)

    def _write_cluster(
        self, io: ClusterIO, read: ViewRead, rows: pa.RecordBatch | pa.Table
    ) -> None:
        """The same HSETs as on one Redis, each sent to the master of its key's slot."""
        keys, commands, offsets = self._hset_rows(read, rows)
        data = memoryview(commands.buffers()[2])
        per_row = [bytes(data[offsets[i] : offsets[i + 1]]) for i in range(len(keys))]
        routed(io, keys.to_pylist(), per_row)

    def _hset_rows(
        self, read: ViewRead, rows: pa.RecordBatch | pa.Table
    ) -> tuple[pa.Array, pa.BinaryArray, Any]:
        keys = redis_keys_array(
            self.store.project, read.key_columns, [rows.column(k.name) for k in read.keys]
        )
        fields = [(ts_key(read.view).encode(), bulk_timestamps(rows.column("event_timestamp")))]
        fields += [
            (field_key(read.view, f.name), encode_bulk(rows.column(f.name), f.type))
            for f in read.features
        ]
        commands, offsets = hset_commands(keys, fields)
        return keys, commands, offsets

    def _hset_payload(self, read: ViewRead, rows: pa.RecordBatch | pa.Table) -> memoryview:
        _, commands, offsets = self._hset_rows(read, rows)
        data = memoryview(commands.buffers()[2])
        return data[offsets[0] : offsets[-1]]

    def _write_feast(self, read, keys, event_ts, created_ts, encoded) -> None:  # type: ignore[no-untyped-def]
        """Rows through Feast's own writer (SQLite), with the exact event time beside them.

        Feast's SQLite store keeps event times in whole seconds; the ttl rule needs them to
        the microsecond, so each row also carries ``_ts:<view>`` (microseconds since the
        epoch), which Feast's readers ignore as they read only the features they ask for.
        """
        fv = self.store.feature_views[read.view]
        stamp = ts_key(read.view)
        rows = [
            (
                entity_key(read.key_columns, key),
                {
                    **{name: values[i] for name, values in encoded.items()},
                    stamp: ValueProto(int64_val=epoch_micros(event_ts[i])),
                },
                event_ts[i],
                created_ts[i],
            )
            for i, key in enumerate(keys)
        ]
        self.store.online_store().online_write_batch(self.store.config, fv, rows, None)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
        if self._cluster is not None:
            self._cluster.close()
