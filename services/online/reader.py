"""Every online read from the store: SQLite through Feast, one Redis, or a Redis Cluster.

``read_view`` returns what is stored (event time and raw values per entity);
``services.online.answer`` turns that into a service's answer (re-exported here).
"""

from __future__ import annotations

from collections.abc import Sequence

from services.online.answer import (
    NOT_FOUND,
    NULL_VALUE,
    OUTSIDE_MAX_AGE,
    PRESENT,
    FeatureColumn,
    Key,
    OnlineResult,
    Stored,
    StoredColumns,
    Wanted,
    _rows,
    _view_columns,
    online_features,
    online_features_async,
)
from services.online.stores import OnlineStore, ProjectRef, open_online_store
from services.reads import ViewRead
from services.settings import Settings

__all__ = [
    "NOT_FOUND",
    "NULL_VALUE",
    "OUTSIDE_MAX_AGE",
    "PRESENT",
    "FeatureColumn",
    "Key",
    "OnlineReader",
    "OnlineResult",
    "Stored",
    "StoredColumns",
    "Wanted",
    "_view_columns",
    "online_features",
    "online_features_async",
]


class OnlineReader:
    """Reads one store's online values; create once per process and reuse.

    Which store is behind it (SQLite, one Redis, a cluster) is ``open_online_store``'s choice;
    on Redis a request is one pipelined ``HMGET`` per entity (``services.online.stores.resp``).
    ``read_columns_async`` does the same round trip without blocking an event loop.
    """

    def __init__(self, owner: ProjectRef) -> None:
        self.owner = owner
        self.backend: OnlineStore = open_online_store(owner)

    @property
    def settings(self) -> Settings:
        return self.owner.settings

    def ping(self) -> bool:
        return self.backend.ping()

    def read_view(self, read: ViewRead, keys: Sequence[Key]) -> list[Stored]:
        """Stored (event time, {feature: value}) per key; (None, None) when absent."""
        return self.read_views([(read, keys)])[0]

    def read_views(self, wanted: Wanted) -> list[list[Stored]]:
        """Several views at once: on Redis, one pipelined round trip for the whole request."""
        return [
            _rows(read, cols)
            for (read, _), cols in zip(wanted, self.read_columns(wanted), strict=True)
        ]

    def read_columns(self, wanted: Wanted) -> list[StoredColumns]:
        """:meth:`read_views`, column-wise (what serving assembles its answer from)."""
        return self.backend.read_columns(wanted)

    async def read_columns_async(self, wanted: Wanted) -> list[StoredColumns]:
        """:meth:`read_columns` on the running event loop."""
        return await self.backend.read_columns_async(wanted)

    def close(self) -> None:
        self.backend.close()

    async def aclose(self) -> None:
        """Close the event loop's connections too (the feature server's shutdown)."""
        await self.backend.aclose()
