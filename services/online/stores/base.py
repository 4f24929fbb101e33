"""The online-store interface and the one place that picks an implementation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from services.online.answer import StoredColumns, Wanted
    from services.reads import ViewRead
    from services.store import Store


class OnlineStore(Protocol):
    """What the data plane needs of an online store; each call is one store round trip or so.

    Reads and writes raise ``OnlineStoreUnavailableError`` when the store does not answer.
    """

    tracks_loss: bool
    """Whether the store can lose its values behind our back (a Redis restarted empty), and so
    keeps per-view markers that :mod:`services.online.state` compares with its record."""

    def write(self, read: ViewRead, batch: pa.RecordBatch | pa.Table) -> int:
        """Write latest rows (join keys, event/created timestamps, features); rows written."""
        ...

    def read_columns(self, wanted: Wanted) -> list[StoredColumns]:
        """Per (view, keys) wanted: event times and each feature's raw values, column-wise."""
        ...

    async def read_columns_async(self, wanted: Wanted) -> list[StoredColumns]:
        """:meth:`read_columns` without blocking the running event loop."""
        ...

    def ping(self) -> bool:
        """Whether the store answers (and, for a cluster, serves every slot)."""
        ...

    def markers(self) -> dict[str, str]:
        """The per-view marker tokens the store holds for this project ({} without loss)."""
        ...

    def set_markers(self, tokens: dict[str, str]) -> None:
        """Store per-view marker tokens for this project (a no-op without loss tracking)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

    async def aclose(self) -> None:
        """Release connections, the event loop's included."""
        ...


def open_online_store(store: Store) -> OnlineStore:
    """The project's online store, as ``SKEWLESS_ONLINE_STORE`` names it."""
    kind = store.settings.online_store
    if kind == "redis":
        from services.online.stores.redis_single import RedisOnline

        return RedisOnline(store)
    if kind == "redis_cluster":
        from services.online.stores.redis_cluster import ClusterOnline

        return ClusterOnline(store)
    from services.online.stores.sqlite import SqliteOnline

    return SqliteOnline(store)
