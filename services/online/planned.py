"""Online answers from the serving plan: no Feast, no registry, no repository import.

``skewless online`` is one process per lookup, so the seconds Feast, Pandera and the
repository's definitions take to import are most of its time. With a current serving plan
(:mod:`services.serving_plan`) the reads are already resolved; :class:`PlannedReader` reads
Feast's SQLite online tables directly (:mod:`services.online.stores.sqlite_read`, the reader
the full path uses too) and the answer is assembled by the same
:func:`services.online.answer.online_features`. Redis stores are served by the full path.
"""

from __future__ import annotations

from services.online.answer import StoredColumns, Wanted, _columns
from services.online.stores.sqlite_read import SqliteReader
from services.reads import ServicePlan
from services.serving_plan import load_service_plan
from services.settings import Settings


class PlannedReader:
    """Reads a SQLite online store for plans loaded from the serving plan."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._sqlite = SqliteReader(settings.online_sqlite_path, settings.project)

    @property
    def settings(self) -> Settings:
        return self._settings

    def read_columns(self, wanted: Wanted) -> list[StoredColumns]:
        return [_columns(read, self._sqlite.read(read, keys)) for read, keys in wanted]

    async def read_columns_async(self, wanted: Wanted) -> list[StoredColumns]:
        return self.read_columns(wanted)

    def close(self) -> None:
        self._sqlite.close()


def open_planned(settings: Settings, service: str) -> tuple[ServicePlan, PlannedReader] | None:
    """The service's plan and a reader, or None: take the full path (stale plan, Redis).

    Raises:
        UnknownFeatureServiceError: the current plan knows every service, and not this one.

    """
    if settings.online_store != "sqlite":
        return None
    plan = load_service_plan(settings, service)
    if plan is None:
        return None
    return plan, PlannedReader(settings)
