"""What the online store holds, as the project's record knows it: done versions and markers.

Per feature view, the record (``services.online.state_sql``: tables beside the registry, which
every replica reaches) holds the dataset versions whose every row is online (what
``materialize --incremental`` skips) and a marker token. A version is done only once the write
instant has passed its newest event and created time: a row that was not yet visible when its
version was first written must still be brought online later.

On Redis the same marker tokens live in one hash per project (``MARKER_PREFIX + project``). A
Redis that restarted empty, or was flushed, no longer holds them: the view's online values are
gone although the record says they were written. :func:`lost_views` names such views, for the
feature server's ``/health``, the freshness audit and the next incremental materialization
(which then rewrites every version). The SQLite online store is a file in the data dir, so it
has no marker: a deleted file is already an unavailable store.

Earlier releases kept the record in ``<data>/online_state.<backend>.json``; such a file is
imported into the tables once and renamed ``*.imported``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from services.online import state_sql
from services.online.keys import MARKER_PREFIX, marker_key
from services.online.stores import ProjectRef, open_online_store

FORMAT = 2
__all__ = ["MARKER_PREFIX", "OnlineState", "load_state", "lost_views", "marker_key"]


@dataclass
class OnlineState:
    """Done dataset versions and the marker token of each view."""

    views: dict[str, list[str]] = field(default_factory=dict)
    markers: dict[str, str] = field(default_factory=dict)
    new_markers: dict[str, str] = field(default_factory=dict)  # set since loading: to save

    def done(self, view: str) -> set[str]:
        return set(self.views.get(view, []))

    def mark_done(self, view: str, versions: Iterable[str]) -> list[str]:
        """Add ``versions`` to the view's done set; return the set, sorted."""
        self.views[view] = sorted(self.done(view) | set(versions))
        return self.views[view]


def legacy_path(store: ProjectRef) -> Path:
    """The JSON file earlier releases kept the record in."""
    return store.settings.data_dir / f"online_state.{store.settings.online_store}.json"


def _import_legacy(store: ProjectRef) -> None:
    path = legacy_path(store)
    if not path.exists():
        return
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT:  # the first layout: {view: [versions]}, no markers
        data = {"views": data, "markers": {}}
    pairs = [(view, v) for view, versions in data["views"].items() for v in versions]
    state_sql.add(store.settings, store.project, pairs, data["markers"])
    os.replace(path, path.with_suffix(".json.imported"))


def load_state(store: ProjectRef) -> OnlineState:
    """The recorded state (empty when nothing was ever written online for this project)."""
    _import_legacy(store)
    views, markers = state_sql.read(store.settings, store.project)
    return OnlineState(views=views, markers=markers)


def save_state(store: ProjectRef, state: OnlineState) -> None:
    """Add the state's done versions and the markers set since loading to the record."""
    pairs = [(view, v) for view, versions in state.views.items() for v in versions]
    state_sql.add(store.settings, store.project, pairs, state.new_markers)
    state.new_markers.clear()


def _online_markers(store: ProjectRef) -> dict[str, str]:
    backend = open_online_store(store)
    try:
        return backend.markers()
    finally:
        backend.close()


def lost_views(store: ProjectRef, state: OnlineState | None = None) -> list[str]:
    """Views this data dir wrote online whose marker the online store no longer holds.

    Raises:
        OnlineStoreUnavailableError: Redis did not answer.

    """
    if not store.settings.uses_redis:  # only a store that tracks loss keeps markers
        return []
    state = state or load_state(store)
    expected = {v: t for v, t in state.markers.items() if state.views.get(v)}
    if not expected:
        return []
    held = _online_markers(store)
    return sorted(v for v, token in expected.items() if held.get(v) != token)


def write_markers(store: ProjectRef, state: OnlineState, views: Iterable[str]) -> None:
    """Record that the online store now holds every done version of ``views`` (new tokens).

    Called after a write that covered each view's versions in full, and before the state is
    saved, so a crash between the two leaves the view reported lost (rewritten next time), never
    a marker for values that were not written.
    """
    tokens = {view: uuid.uuid4().hex for view in views}
    if not tokens:
        return
    backend = open_online_store(store)
    try:
        backend.set_markers(tokens)
    finally:
        backend.close()
    state.markers.update(tokens)
    state.new_markers.update(tokens)


def lost_state_reason(views: list[str]) -> str:
    """One line for a user: which views lost their online values, and what to do."""
    return (
        f"the online store lost the materialized values of {len(views)} view(s) "
        f"({', '.join(views)}): it restarted empty or was flushed; run `skewless materialize`"
    )


def is_visible(newest: datetime | None, at: datetime) -> bool:
    """A version is done at ``at`` once its newest event/created time is not after ``at``."""
    return newest is None or newest <= at
