"""Materialization: bring the online store to the offline value at *now*.

For every entity touched, the row written is exactly the offline point-in-time
row at the write instant (same query as training sets), streamed from DuckDB in
batches so memory stays bounded. ``--incremental`` works from the dataset
versions not yet done rather than from a time watermark, so late data (an old
event time in a new version) still reaches the online store; a version is done
only once all its rows were visible (see :mod:`services.online.state`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.clock import now_utc
from services.definition_versions import definition_hash
from services.offline.datasets import DatasetVersion, list_versions
from services.offline.pit import open_engine
from services.online.state import (
    is_visible,
    load_state,
    lost_views,
    save_state,
    write_markers,
)
from services.online.writer import OnlineWriter
from services.resolution import ViewRead, applied_views, plan_view
from services.store import Store

Progress = Callable[[str, int], None]


@dataclass
class MaterializeResult:
    """What one view's materialization wrote.

    ``versions`` are the dataset versions read; ``materialized`` the versions the online table
    reflects once this write is done (what the next incremental run skips); ``view_version`` the
    view's definition hash. ``read`` is what was read, for lineage.
    """

    view: str
    read: ViewRead
    rows: int = 0
    entities: int = 0
    versions: list[str] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)
    view_version: str = ""


def write_entities(
    store: Store,
    writer: OnlineWriter,
    read: ViewRead,
    *,
    keys: Sequence[tuple[Any, ...]] | None,
    at: datetime,
    progress: Progress | None = None,
    memory_limit: str = "2GB",
) -> MaterializeResult:
    """Write the latest row at ``at`` of each entity in ``keys`` (all when None).

    ``memory_limit`` caps DuckDB (it spills to disk beyond), e.g. a streamed ingest's budget.
    """
    result = MaterializeResult(
        view=read.view, read=read, view_version=definition_hash(store.feature_views[read.view])
    )
    with open_engine(store.settings, memory_limit=memory_limit) as engine:
        result.versions, batches = engine.latest(read, at, keys=keys)
        for batch in batches:
            written = writer.write(read, batch)
            result.rows += written
            result.entities += written
            if progress:
                progress(read.view, written)
    return result


def _keys_in(
    store: Store,
    read: ViewRead,
    paths: Iterable[str],
    window: tuple[datetime, datetime] | None = None,
) -> list[tuple[Any, ...]]:
    with open_engine(store.settings) as engine:
        return engine.keys_in(read, list(paths), window)


def _visible_versions(
    store: Store, read: ViewRead, versions: Sequence[DatasetVersion], at: datetime
) -> set[str]:
    """The versions whose every row is visible at ``at`` (none created or timed after it)."""
    with open_engine(store.settings) as engine:
        newest = engine.newest_times(read, [v.path for v in versions])
    return {v.version for v in versions if is_visible(newest.get(v.path), at)}


def materialize(
    store: Store,
    *,
    views: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    incremental: bool = False,
    progress: Progress | None = None,
    at: datetime | None = None,
) -> list[MaterializeResult]:
    """Materialize views into the online store.

    Args:
        store: the project.
        views: view names (all batch views when None).
        start: with ``end``, only entities having rows with event time in [start, end].
        end: see ``start``.
        incremental: only entities in dataset versions not done before. A version is done once
            every one of its rows was visible at a run's instant (rows created or timed in the
            future are brought online by a later run); every version of a view whose online
            values were lost (see :mod:`services.online.state`) is rewritten.
        progress: called with (view, rows written) after each batch.
        at: the write instant (default now): what is online is the offline value at ``at``. An
            earlier instant replays a history, as the property tests do run after run.

    """
    at = at or now_utc()
    state = load_state(store)
    lost = set(lost_views(store, state))
    writer = OnlineWriter(store)
    results = []
    try:
        for name in views or applied_views(store):
            read = plan_view(store, name)
            versions = list_versions(store.settings.offline_dir, read.source)
            done = set() if name in lost else state.done(name)
            keys: list[tuple[Any, ...]] | None = None
            windowed = False
            if incremental:
                keys = _keys_in(store, read, [v.path for v in versions if v.version not in done])
            elif start is not None and end is not None:
                windowed = True
                keys = _keys_in(store, read, [v.path for v in versions], (start, end))
            result = write_entities(store, writer, read, keys=keys, at=at, progress=progress)
            if not windowed:  # a window writes some entities only: no version is done by it
                pending = [v for v in versions if v.version not in done]
                state.views[name] = sorted(done | _visible_versions(store, read, pending, at))
                if name in lost or name not in state.markers:
                    write_markers(store, state, [name])
            result.materialized = state.views.get(name, [])
            results.append(result)
        save_state(store, state)
    finally:
        writer.close()
    return results


def mark_materialized(
    store: Store, view: str, version: str, newest: datetime | None, at: datetime
) -> list[str]:
    """Record what an ingest wrote online: ``version``'s entities for ``view`` at ``at``.

    The version is done only when ``newest`` (its latest event/created time) is not after
    ``at``; otherwise a later ``materialize --incremental`` brings its future rows online. A
    view's first online write also sets its marker. Returns the view's done versions.
    """
    state = load_state(store)
    first = not state.views.get(view)
    if is_visible(newest, at):
        state.mark_done(view, [version])
    if first and state.views.get(view):
        write_markers(store, state, [view])
    save_state(store, state)
    return state.views.get(view, [])
