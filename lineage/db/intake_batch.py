"""What one intake batch touches, by natural key, and the stored rows it gets back.

``lineage.db.intake_sql`` reads them (``lock_and_read``); ``lineage.derive`` and
``lineage.batch_rows`` build and consume them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from lineage.db.models import Base, Dataset, DatasetVersion, Job, RunInput, RunOutput

Key = tuple[str, str]
Edge = type[RunInput] | type[RunOutput]
EDGES: tuple[Edge, ...] = (RunInput, RunOutput)
# Tables whose new rows get ids before they are written (rows that reference them need them).
RESERVED: tuple[type[Base], ...] = (Job, Dataset, DatasetVersion)


class VersionFound(NamedTuple):
    """A stored dataset version."""

    id: int
    dataset_id: int
    version: str
    version_source: str
    facets: dict[str, Any]
    created_at: datetime


class RunFound(NamedTuple):
    """A stored run."""

    run_id: str
    job_id: int
    state: str
    state_time: datetime
    started_at: datetime | None
    ended_at: datetime | None
    facets: dict[str, Any]
    job_facets: dict[str, Any]


@dataclass(frozen=True)
class BatchKeys:
    """What a batch of events touches, by natural key."""

    hashes: Collection[str] = ()
    jobs: Collection[Key] = ()
    datasets: Collection[Key] = ()
    versions: Collection[tuple[str, str, str]] = ()  # (namespace, name, version) a mention names
    latest: Collection[Key] = ()  # datasets mentioned without a version: their latest is needed
    runs: Collection[str] = ()
    columns: Collection[Key] = ()  # outputs with column lineage: their stored column edges
    audit_head: bool = False  # lock the audit chain's head and return it
    tokens: Collection[str] = ()  # token hashes: their live principals come back as ``callers``


@dataclass
class BatchReads:
    """The stored rows a batch touches (see ``BatchKeys``)."""

    hashes: set[str]
    jobs: dict[Key, tuple[int, dict[str, Any]]]
    datasets: dict[Key, tuple[int, dict[str, Any]]]
    versions: list[VersionFound]
    latest: list[VersionFound]
    runs: list[RunFound]
    edges: dict[Edge, list[tuple[str, int, int, str]]]  # (run id, dataset, version, source)
    columns: set[tuple[Any, ...]]
    ids: dict[type[Base], list[int]] | None  # reserved ids, ascending; None: assign when writing
    audit_head: tuple[int, str] | None
    callers: dict[str, tuple[str, str, set[str]]] = field(default_factory=dict)
