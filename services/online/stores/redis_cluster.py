"""A Redis Cluster as the online store: one Redis's keys and bytes, routed by hash slot.

The routing (slot map, per-master pipelines, MOVED/ASK, failover) is ``services.online.cluster``.
"""

from __future__ import annotations

import pyarrow as pa
from starlette.concurrency import run_in_threadpool

from services.online.answer import StoredColumns, Wanted
from services.online.cluster import ClusterIO, routed
from services.online.stores.base import ProjectRef
from services.online.stores.markers import read_markers, write_markers
from services.online.stores.redis_single import CHUNK_ROWS
from services.online.stores.resp import Hmget, hset_rows
from services.reads import ViewRead


class ClusterOnline:
    """A Redis Cluster; create once per process and reuse (it holds the cluster client)."""

    tracks_loss = True

    def __init__(self, owner: ProjectRef) -> None:
        self.owner = owner
        self._io = ClusterIO(owner.settings)
        self._hmget = Hmget(owner.project)

    def write(self, read: ViewRead, batch: pa.RecordBatch | pa.Table) -> int:
        """The same HSETs as on one Redis, each sent to the master of its key's slot."""
        for start in range(0, batch.num_rows, CHUNK_ROWS):
            keys, commands, offsets = hset_rows(
                self.owner.project, read, batch.slice(start, CHUNK_ROWS)
            )
            data = memoryview(commands.buffers()[2])
            per_row = [bytes(data[offsets[i] : offsets[i + 1]]) for i in range(len(keys))]
            routed(self._io, keys.to_pylist(), per_row)
        return int(batch.num_rows)

    def read_columns(self, wanted: Wanted) -> list[StoredColumns]:
        """One HMGET per entity key as on one Redis, each sent to its slot's master."""
        groups = self._hmget.groups(wanted)
        keys, commands = self._hmget.commands(groups)
        return self._hmget.decode(wanted, groups, routed(self._io, keys, commands))

    async def read_columns_async(self, wanted: Wanted) -> list[StoredColumns]:
        return await run_in_threadpool(self.read_columns, wanted)

    def ping(self) -> bool:
        return self._io.healthy()

    def markers(self) -> dict[str, str]:
        return read_markers(lambda: self._io.client, self.owner.project)

    def set_markers(self, tokens: dict[str, str]) -> None:
        write_markers(lambda: self._io.client, self.owner.project, tokens)

    def close(self) -> None:
        self._io.close()

    async def aclose(self) -> None:
        self.close()
