"""The rows one batch of intake touches, held in memory, and the rules that change them.

``batch_keys`` names the rows a batch of events touches; ``lineage.derive`` reads them once per
batch, applies the events to them in order, and writes what changed. Each row records whether it
is new (to insert), changed (to update) or, for a run's edge, replaced (to delete).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lineage.db import intake_batch
from lineage.events import TERMINAL_STATES, DatasetRecord, ParsedEvent
from lineage.rules import VERSION_PRECEDENCE, explicit_version, run_state_wins

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
    """A run's input or output edge to one version of a dataset, and how that was known."""

    version: VersionRow | None  # None for a stored edge: its version is ``version_id``
    version_id: int | None
    source: str
    new: bool
    dirty: bool = False  # a stored edge whose source became stronger
    deleted: bool = False  # replaced by a stronger mention of the dataset

    def links(self, version: VersionRow) -> bool:
        """Whether this edge is to ``version``."""
        if self.version is not None:
            return self.version is version
        return self.version_id is not None and self.version_id == version.id


def link_version(group: list[EdgeRow], version: VersionRow, source: str) -> None:
    """Record that a run's mention of a dataset resolved to ``version`` (by ``source``).

    A run keeps, per dataset, the versions its strongest kind of mention named: a stronger
    mention (a ``version`` facet over a schema hash over an inferred latest) replaces what
    weaker ones linked; mentions as strong add their versions (a training set reads several
    versions of a source); an inferred mention adds nothing once the run links the dataset.
    """
    rank = VERSION_PRECEDENCE[source]
    top = max((VERSION_PRECEDENCE[e.source] for e in group if not e.deleted), default=-1)
    if rank < top or (rank == top and source == "inferred"):
        return
    if rank > top:
        for edge in group:
            edge.deleted = True
    found = next((edge for edge in group if edge.links(version)), None)
    if found is None:
        group.append(EdgeRow(version, version.id, source, new=True))
        return
    found.dirty |= found.source != source
    found.deleted = False
    found.source = source


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


def batch_keys(
    events: Sequence[ParsedEvent],
    hashes: Collection[str] = (),
    *,
    audit_head: bool = False,
    tokens: Collection[str] = (),
) -> intake_batch.BatchKeys:
    """What deriving ``events`` reads: the rows they mention, by natural key."""
    jobs: set[Key] = set()
    datasets: set[Key] = set()
    versions: set[tuple[str, str, str]] = set()
    latest: set[Key] = set()
    runs: set[str] = set()
    columns: set[Key] = set()
    for event in events:
        if event.job_namespace is not None and event.job_name is not None:
            jobs.add((event.job_namespace, event.job_name))
        records: tuple[DatasetRecord, ...] = ()
        if event.kind == "run" and event.run_id is not None:
            runs.add(event.run_id)
            records = (*event.inputs, *event.outputs)
            columns.update(
                (r.namespace, r.name) for r in event.outputs if "columnLineage" in r.facets
            )
            if event.parent is not None:
                runs.add(event.parent[0])
                jobs.add((event.parent[1], event.parent[2]))
        if event.kind == "job":  # declared lineage: the datasets' nodes, no version of them
            datasets.update((r.namespace, r.name) for r in (*event.inputs, *event.outputs))
        if event.dataset is not None:
            records = (*records, event.dataset)
        for record in records:
            key = (record.namespace, record.name)
            datasets.add(key)
            explicit = explicit_version(record)
            if explicit is None:
                latest.add(key)
            else:
                versions.add((*key, explicit[0]))
    return intake_batch.BatchKeys(
        hashes=hashes,
        jobs=jobs,
        datasets=datasets,
        versions=versions,
        latest=latest,
        runs=runs,
        columns=columns,
        audit_head=audit_head,
        tokens=tokens,
    )
