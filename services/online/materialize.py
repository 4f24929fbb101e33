"""Materialization: bring the online store to the offline value at *now*.

For every entity touched, the row written is exactly the offline point-in-time
row at the write instant (same query as training sets), streamed from DuckDB in
batches so memory stays bounded. ``--incremental`` works from the dataset
versions not yet materialized rather than from a time watermark, so late data
(an old event time in a new version) still reaches the online store.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from services.offline.datasets import list_versions
from services.offline.engine import connect, distinct_keys, latest_rows, register_versions
from services.online.writer import OnlineWriter
from services.resolution import ViewRead, plan_view
from services.store import Store, definition_hash, now_utc

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


def _state_path(store: Store) -> Path:
    return store.settings.data_dir / f"online_state.{store.settings.online_store}.json"


def _load_state(store: Store) -> dict[str, list[str]]:
    path = _state_path(store)
    if not path.exists():
        return {}
    data: dict[str, list[str]] = json.loads(path.read_text())
    return data


def _save_state(store: Store, state: dict[str, list[str]]) -> None:
    path = _state_path(store)
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, path)


def write_entities(
    store: Store,
    writer: OnlineWriter,
    read: ViewRead,
    *,
    keys: Sequence[tuple[Any, ...]] | None,
    at: datetime,
    progress: Progress | None = None,
) -> MaterializeResult:
    """Write the latest row at ``at`` of each entity in ``keys`` (all when None)."""
    result = MaterializeResult(
        view=read.view, read=read, view_version=definition_hash(store.feature_views[read.view])
    )
    con = connect()
    try:
        result.versions = register_versions(con, store.settings.offline_dir, read, "src")
        if not result.versions or (keys is not None and not keys):
            return result
        for batch in latest_rows(con, read, "src", at, keys=keys):
            written = writer.write(read, batch)
            result.rows += written
            result.entities += written
            if progress:
                progress(read.view, written)
    finally:
        con.close()
    return result


def _keys_in(read: ViewRead, paths: Iterable[str], where: str = "") -> list[tuple[Any, ...]]:
    con = connect()
    try:
        return distinct_keys(con, read, list(paths), where)
    finally:
        con.close()


def materialize(
    store: Store,
    *,
    views: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    incremental: bool = False,
    progress: Progress | None = None,
) -> list[MaterializeResult]:
    """Materialize views into the online store.

    Args:
        store: the project.
        views: view names (all batch views when None).
        start: with ``end``, only entities having rows with event time in [start, end].
        end: see ``start``.
        incremental: only entities in dataset versions not materialized before.
        progress: called with (view, rows written) after each batch.

    """
    at = now_utc()
    state = _load_state(store)
    writer = OnlineWriter(store)
    results = []
    try:
        for name in views or sorted(store.feature_views):
            read = plan_view(store, name)
            versions = list_versions(store.settings.offline_dir, read.source)
            keys: list[tuple[Any, ...]] | None = None
            if incremental:
                done = set(state.get(name, []))
                keys = _keys_in(read, [v.path for v in versions if v.version not in done])
            elif start is not None and end is not None:
                keys = _keys_in(
                    read,
                    [v.path for v in versions],
                    f"WHERE \"{read.event_ts}\" BETWEEN TIMESTAMPTZ '{start.isoformat()}' "
                    f"AND TIMESTAMPTZ '{end.isoformat()}'",
                )
            result = write_entities(store, writer, read, keys=keys, at=at, progress=progress)
            state[name] = sorted(set(state.get(name, [])) | {v.version for v in versions})
            result.materialized = state[name]
            results.append(result)
        _save_state(store, state)
    finally:
        writer.close()
    return results


def mark_materialized(store: Store, view: str, version: str) -> list[str]:
    """Record that a version's entities were written online (by ingest); return all so recorded."""
    state = _load_state(store)
    state[view] = sorted(set(state.get(view, [])) | {version})
    _save_state(store, state)
    return state[view]
