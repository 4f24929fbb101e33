"""The online-store interface and the one place that picks an implementation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

    from services.online.answer import StoredColumns, Wanted
    from services.reads import ViewRead
    from services.settings import Settings


class ProjectRef(Protocol):
    """Whose online values: the settings naming the store, and the Feast project's name.

    ``services.store.Store`` is one; :class:`SettingsProject` is one without Feast loaded.
    """

    @property
    def settings(self) -> Settings: ...

    @property
    def project(self) -> str: ...


@dataclass(frozen=True)
class SettingsProject:
    """A :class:`ProjectRef` from settings alone (the serving plan's reads)."""

    settings: Settings
    project: str


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


def open_online_store(owner: ProjectRef) -> OnlineStore:
    """The project's online store, as ``SKEWLESS_ONLINE_STORE`` names it."""
    kind = owner.settings.online_store
    if kind == "redis":
        from services.online.stores.redis_single import RedisOnline

        return RedisOnline(owner)
    if kind == "redis_cluster":
        from services.online.stores.redis_cluster import ClusterOnline

        return ClusterOnline(owner)
    from services.online.stores.sqlite import SqliteOnline

    return SqliteOnline(owner)
