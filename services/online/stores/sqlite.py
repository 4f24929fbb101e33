"""SQLite as the online store, through Feast's own SQLite store (its file, its format).

Feast's SQLite store keeps event times in whole seconds; the ttl rule needs them to the
microsecond, so each row also carries ``_ts:<view>`` (microseconds since the epoch), which
Feast's readers ignore as they read only the features they ask for. A file has no one to lose
it behind our back (a deleted file is an unavailable store), so it keeps no markers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from starlette.concurrency import run_in_threadpool

from services.online.answer import Key, Stored, StoredColumns, Wanted, _columns
from services.online.codec import decode_column, encode_column
from services.online.keys import entity_key, epoch_micros, from_epoch_micros, ts_key
from services.resolution import ViewRead
from services.store import Store


class SqliteOnline:
    """Feast's SQLite online store, with exact event times beside each row."""

    tracks_loss = False

    def __init__(self, store: Store) -> None:
        self.store = store

    def write(self, read: ViewRead, batch: pa.RecordBatch | pa.Table) -> int:
        if batch.num_rows == 0:
            return 0
        columns = [batch.column(k.name).to_pylist() for k in read.keys]
        keys = list(zip(*columns, strict=True))
        event_ts: list[datetime] = batch.column("event_timestamp").to_pylist()
        created_ts: list[datetime] = batch.column("created_timestamp").to_pylist()
        encoded = {f.name: encode_column(batch.column(f.name), f.type) for f in read.features}
        stamp = ts_key(read.view)
        rows: list[Any] = [
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
        fv = self.store.feature_views[read.view]
        self.store.online_store().online_write_batch(self.store.config, fv, rows, None)
        return int(batch.num_rows)

    def read_columns(self, wanted: Wanted) -> list[StoredColumns]:
        return [_columns(read, self._read(read, keys)) for read, keys in wanted]

    async def read_columns_async(self, wanted: Wanted) -> list[StoredColumns]:
        return await run_in_threadpool(self.read_columns, wanted)

    def _read(self, read: ViewRead, keys: Sequence[Key]) -> list[Stored]:
        fv = self.store.feature_views[read.view]
        rows = self.store.online_store().online_read(
            self.store.config,
            fv,
            [entity_key(read.key_columns, k) for k in keys],
            [f.name for f in read.features],
        )
        types = {f.name: f.type for f in read.features}
        stamp = ts_key(read.view)
        out: list[Stored] = []
        for ts, values in rows:
            if values is None:
                out.append((ts, None))
                continue
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

    def ping(self) -> bool:
        return self.store.settings.online_sqlite_path.exists()

    def markers(self) -> dict[str, str]:
        return {}

    def set_markers(self, tokens: dict[str, str]) -> None:
        return None

    def close(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
