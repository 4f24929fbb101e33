"""Every online write: the latest rows of a view, in Feast's format.

The rows handed in are authoritative (computed by the offline engine for the
entity at the write instant), so they are written unconditionally: a correction
with the same event time and a later created time replaces the old value, which
Feast's own Redis writer would skip.
"""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import redis

from services.errors import OnlineStoreUnavailableError
from services.online.client import redis_client
from services.online.codec import (
    encode_column,
    encode_timestamp,
    encode_values,
    entity_key,
    field_key,
    redis_key,
    ts_key,
)
from services.resolution import ViewRead
from services.store import Store


class OnlineWriter:
    """Writes batches of latest rows for one store; reuse it across batches."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._redis: redis.Redis[bytes] | None = None
        if store.settings.online_store == "redis":
            self._redis = redis_client(store.settings)

    def write(self, read: ViewRead, batch: pa.RecordBatch | pa.Table) -> int:
        """Write one batch (join key, event/created timestamps, features); return rows written."""
        if batch.num_rows == 0:
            return 0
        keys = batch.column(read.join_key).to_pylist()
        event_ts: list[datetime] = batch.column("event_timestamp").to_pylist()
        if self._redis is not None:
            raw = {
                f.name: encode_values(batch.column(f.name).to_pylist(), f.kind)
                for f in read.features
            }
            self._write_redis(read, keys, event_ts, raw)
        else:
            created_ts: list[datetime] = batch.column("created_timestamp").to_pylist()
            encoded = {f.name: encode_column(batch.column(f.name), f) for f in read.features}
            self._write_feast(read, keys, event_ts, created_ts, encoded)
        return int(batch.num_rows)

    def _write_redis(
        self,
        read: ViewRead,
        keys: list[int],
        event_ts: list[datetime],
        raw: dict[str, list[bytes]],
    ) -> None:
        assert self._redis is not None
        project = self.store.project
        names = [(field_key(read.view, name), values) for name, values in raw.items()]
        tsk = ts_key(read.view)
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for i, key in enumerate(keys):
                    mapping: dict[bytes | str, bytes] = {tsk: encode_timestamp(event_ts[i])}
                    for fkey, values in names:
                        mapping[fkey] = values[i]
                    pipe.hset(redis_key(project, read.join_key, key), mapping=mapping)
                pipe.execute()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise OnlineStoreUnavailableError(str(exc)) from exc

    def _write_feast(self, read, keys, event_ts, created_ts, encoded) -> None:  # type: ignore[no-untyped-def]
        fv = self.store.feature_views[read.view]
        rows = [
            (
                entity_key(read.join_key, key),
                {name: values[i] for name, values in encoded.items()},
                event_ts[i],
                created_ts[i],
            )
            for i, key in enumerate(keys)
        ]
        self.store.online_store().online_write_batch(self.store.config, fv, rows, None)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
