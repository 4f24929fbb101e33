"""SQLite as the online store, through Feast's own SQLite store (its file, its format).

Feast's SQLite store keeps event times in whole seconds; the ttl rule needs them to the
microsecond, so each row also carries ``_ts:<view>`` (microseconds since the epoch), which
Feast's readers ignore as they read only the features they ask for. A file has no one to lose
it behind our back (a deleted file is an unavailable store), so it keeps no markers. Writes go
through Feast's store, which creates a view's table again if the file has lost it; reads through
:class:`SqliteReader`, which needs no Feast and reads a missing table as no rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from starlette.concurrency import run_in_threadpool

from services.online.answer import StoredColumns, Wanted, _columns
from services.online.codec import encode_column
from services.online.keys import entity_key, epoch_micros, ts_key
from services.online.stores.base import ProjectRef
from services.online.stores.sqlite_read import SqliteReader
from services.online.value_proto import value_class
from services.reads import ViewRead

if TYPE_CHECKING:
    from services.store import Store


class SqliteOnline:
    """Feast's SQLite online store, with exact event times beside each row."""

    tracks_loss = False

    def __init__(self, owner: ProjectRef) -> None:
        self.owner = owner
        self.reader = SqliteReader(owner.settings.online_sqlite_path, owner.project)
        self._opened: Store | None = None
        self._tables: set[str] = set()  # views whose table this instance has made sure of

    def _feast(self) -> Store:
        """The Feast store writes go through: the owner, or one opened on the first write."""
        from services.store import Store

        if isinstance(self.owner, Store):
            return self.owner
        if self._opened is None:
            self._opened = Store(self.owner.settings)
        return self._opened

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
                    stamp: value_class()(int64_val=epoch_micros(event_ts[i])),
                },
                event_ts[i],
                created_ts[i],
            )
            for i, key in enumerate(keys)
        ]
        store = self._feast()
        fv = store.feature_views[read.view]
        online = store.online_store()
        if read.view not in self._tables:
            # Feast's apply creates a view's table; a file replaced since (deleted, or a new
            # online path) has lost it, and Feast's write would fail on "no such table".
            online.update(store.config, [], [fv], [], [], partial=True)
            self._tables.add(read.view)
        online.online_write_batch(store.config, fv, rows, None)
        return int(batch.num_rows)

    def read_columns(self, wanted: Wanted) -> list[StoredColumns]:
        return [_columns(read, self.reader.read(read, keys)) for read, keys in wanted]

    async def read_columns_async(self, wanted: Wanted) -> list[StoredColumns]:
        return await run_in_threadpool(self.read_columns, wanted)

    def ping(self) -> bool:
        return self.owner.settings.online_sqlite_path.exists()

    def markers(self) -> dict[str, str]:
        return {}

    def set_markers(self, tokens: dict[str, str]) -> None:
        return None

    def close(self) -> None:
        self.reader.close()
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    async def aclose(self) -> None:
        return None
