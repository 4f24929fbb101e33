"""The rows one batch of intake touches, held in memory, and the rules that change them.

``lineage.derive`` reads these rows once per batch, applies the events to them in order, and
writes what changed. Each row records whether it is new (to insert) or changed (to update).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lineage.events import TERMINAL_STATES
from lineage.rules import run_state_wins

Key = tuple[str, str]


@dataclass
class NodeRow:
    """A job or a dataset: its id once stored, and its merged facets."""

    id: int | None
    facets: dict[str, Any]
    new: bool = False
    dirty: bool = False


@dataclass
class VersionRow:
    """A dataset version; ``order`` breaks ties of ``created_at`` (stored id, or creation order)."""

    dataset: Key
    version: str
    id: int | None
    source: str
    facets: dict[str, Any]
    created_at: datetime
    order: int
    schema_fields: dict[str, Any] = field(default_factory=dict)
    stored: bool = False
    dirty: bool = False

    def newer_than(self, other: VersionRow | None) -> bool:
        return other is None or (self.created_at, self.order) > (other.created_at, other.order)


@dataclass
class RunRow:
    """A run with its order-tolerant state and merged run and job facets."""

    run_id: str
    job: Key | None  # set for a new run; a stored run keeps its job_id
    job_id: int | None
    state: str
    state_time: datetime
    started_at: datetime | None
    ended_at: datetime | None
    facets: dict[str, Any]
    job_facets: dict[str, Any]
    new: bool
    dirty: bool = False


@dataclass
class EdgeRow:
    """A run's input or output edge to a dataset, and how its version was known."""

    version: VersionRow | None  # None for a stored edge this batch has not changed
    source: str
    new: bool
    dirty: bool = False


def merge_facets(row: NodeRow | VersionRow | RunRow, facets: dict[str, Any]) -> bool:
    """Merge ``facets`` into ``row.facets``; return whether anything changed (a write is due)."""
    merged = {**row.facets, **facets}
    changed = merged != row.facets
    row.facets = merged
    return changed


def apply_state(run: RunRow, event_type: str, when: datetime, created: bool) -> None:
    """Order-tolerant state: a terminal state is never undone; among terminals the latest wins."""
    if event_type == "START":
        run.started_at = when if run.started_at is None else min(run.started_at, when)
    if event_type in TERMINAL_STATES:
        run.ended_at = when if run.ended_at is None else max(run.ended_at, when)
    if created:
        return
    if run_state_wins(event_type, when, run.state, run.state_time):
        run.state = event_type
        run.state_time = when
