"""Every online write: the latest rows of a view, in Feast's format.

The rows handed in are authoritative (computed by the offline engine for the
entity at the write instant), so they are written unconditionally: a correction
with the same event time and a later created time replaces the old value, which
Feast's own Redis writer would skip.
"""

from __future__ import annotations

import pyarrow as pa

from services.online.stores import OnlineStore, open_online_store
from services.resolution import ViewRead
from services.store import Store


class OnlineWriter:
    """Writes batches of latest rows to the project's online store; reuse it across batches."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.backend: OnlineStore = open_online_store(store)

    def write(self, read: ViewRead, batch: pa.RecordBatch | pa.Table) -> int:
        """Write one batch (join key, event/created timestamps, features); return rows written."""
        if batch.num_rows == 0:
            return 0
        return self.backend.write(read, batch)

    def close(self) -> None:
        self.backend.close()
