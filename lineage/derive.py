"""Deriving the lineage graph from a batch of new events, with a fixed number of statements.

The rules are those of one event at a time (see ``lineage.service``): jobs and datasets are
upserted with their facets merged; a dataset mention resolves to the version its ``version``
facet names, else a hash of its schema, else the dataset's latest version; runs keep an
order-tolerant state; a run keeps one edge per dataset, and a stronger version source replaces a
weaker one while mentions as strong add their versions (``batch_rows.link_version``); outputs
record column lineage. A batch names the rows it touches (``batch_rows.batch_keys``),
which are read together (``intake_sql.lock_and_read``); it applies the events in order to that
in-memory copy, then writes what is new or changed together (``bulk.write_all``): on
PostgreSQL one round trip each way, whatever the batch holds. The read holds the intake lock
until the caller commits, so nobody writes the same rows in between.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lineage.batch_rows import (
    EdgeRow,
    Key,
    NodeRow,
    RunRow,
    VersionRow,
    apply_state,
    link_version,
    merge_facets,
)
from lineage.db import intake_batch
from lineage.db.bulk import Groups, Rows, write_all
from lineage.db.models import (
    Base,
    ColumnLineage,
    Dataset,
    DatasetVersion,
    Job,
    Run,
    RunInput,
    RunOutput,
)
from lineage.derive_rows import BatchRows
from lineage.events import DatasetRecord, ParsedEvent
from lineage.rules import explicit_version, schema_hash

_NEW_ORDER = 1 << 62  # new rows sort after every stored id, in creation order


class GraphBatch(BatchRows):
    """The rows a batch of events touches, read once, changed in memory, written once."""

    def __init__(self, session: Session, reads: intake_batch.BatchReads, now: datetime) -> None:
        self.session = session
        self.now = now
        self._counter = itertools.count(_NEW_ORDER)
        self.jobs: dict[Key, NodeRow] = {}
        self.datasets: dict[Key, NodeRow] = {}
        self.versions: dict[tuple[Key, str], VersionRow] = {}
        self.latest: dict[Key, VersionRow | None] = {}
        self.runs: dict[str, RunRow] = {}
        self.edges: dict[tuple[intake_batch.Edge, str, Key], list[EdgeRow]] = {}
        self.columns: dict[tuple[Any, ...], tuple[VersionRow, dict[str, Any]]] = {}
        self.job_edges: set[tuple[Key, Key, str]] = set()  # (job, dataset, "in" | "out")
        self.parents: dict[str, str] = {}  # run id -> parent run id
        self.aliases: dict[Key, Key] = {}  # (namespace, name) of a symlink -> its dataset
        self._reserved = reads.ids
        self._known_columns = reads.columns
        self._load(reads)

    # --- read ----------------------------------------------------------------------------------

    def _load(self, reads: intake_batch.BatchReads) -> None:
        for key, (id_, facets) in reads.jobs.items():
            self.jobs[key] = NodeRow(id_, facets)
        for key, (id_, facets) in reads.datasets.items():
            self.datasets[key] = NodeRow(id_, facets)
        by_id = {node.id: key for key, node in self.datasets.items()}
        for row in reads.versions:
            self._remember(by_id[row.dataset_id], row)
        # The latest version is only consulted for a mention that names no version.
        for row in reads.latest:
            self.latest[by_id[row.dataset_id]] = self._remember(by_id[row.dataset_id], row)
        for run in reads.runs:
            self.runs[run.run_id] = RunRow(
                run.run_id,
                None,
                run.job_id,
                run.state,
                run.state_time,
                run.started_at,
                run.ended_at,
                run.facets,
                run.job_facets,
                new=False,
            )
        for edge, found in reads.edges.items():
            for run_id, ds_id, dv_id, source in found:
                if ds_id in by_id:  # edges to datasets this batch does not mention stay as they are
                    group = self.edges.setdefault((edge, run_id, by_id[ds_id]), [])
                    group.append(EdgeRow(None, dv_id, source, new=False))

    def _remember(self, dataset: Key, row: Any) -> VersionRow:
        key = (dataset, row.version)
        if key not in self.versions:
            self.versions[key] = VersionRow(
                dataset,
                row.version,
                row.id,
                row.version_source,
                row.facets,
                row.created_at,
                row.id,
                stored=True,
            )
        return self.versions[key]

    # --- apply ---------------------------------------------------------------------------------

    def apply(self, event: ParsedEvent) -> None:
        """Apply one event's graph changes to the in-memory rows."""
        if event.kind == "dataset" and event.dataset is not None:
            self._dataset(event.dataset, event.event_time)
        elif event.kind == "job":
            job = self._job(event)
            for direction, records in (("in", event.inputs), ("out", event.outputs)):
                for record in records:
                    key = self._node(record, read_only=record.namespace in event.read_only)
                    self.job_edges.add((job, key, direction))
        else:
            self._run(event)

    def _job(self, event: ParsedEvent) -> Key:
        if event.job_namespace is None or event.job_name is None:
            raise RuntimeError("a run or job event reached derivation without its job")
        key = (event.job_namespace, event.job_name)
        node = self.jobs.setdefault(key, NodeRow(None, {}, new=True))
        if event.job_facets:
            node.dirty |= merge_facets(node, event.job_facets)
        return key

    def _node(self, record: DatasetRecord, *, read_only: bool = False) -> Key:
        """The dataset's node: its facets merged and its symlinks kept, unless ``read_only``.

        A read-only mention (an input in a namespace its producer may not write) creates a bare
        node if there is none, and changes nothing else there.
        """
        key = (record.namespace, record.name)
        node = self.datasets.setdefault(key, NodeRow(None, {}, new=True))
        if read_only:
            return key
        if record.facets:
            node.dirty |= merge_facets(node, record.facets)
        for alias in record.aliases:
            self.aliases.setdefault(alias, key)
        return key

    def _dataset(self, record: DatasetRecord, when: datetime) -> tuple[VersionRow, str]:
        key = self._node(record)
        explicit = explicit_version(record)
        if explicit is None:
            latest = self.latest.get(key)
            if latest is not None:
                return latest, "inferred"
            explicit = (schema_hash(record), "inferred")
        version, source = explicit
        facets = {**record.facets, **record.io_facets}
        found = self.versions.get((key, version))
        if found is None:
            found = VersionRow(
                key,
                version,
                None,
                source,
                facets,
                when,
                next(self._counter),
                schema_fields={"fields": record.facets.get("schema", {}).get("fields", [])},
                dirty=True,
            )
            self.versions[(key, version)] = found
            if found.newer_than(self.latest.get(key)):
                self.latest[key] = found
        elif facets:
            found.dirty |= merge_facets(found, facets)
        return found, source

    def _run(self, event: ParsedEvent) -> None:
        job = self._job(event)
        if event.run_id is None or event.event_type is None:
            raise RuntimeError("a run event reached derivation without its runId or eventType")
        run = self.runs.get(event.run_id)
        created = run is None
        if run is None:
            run = RunRow(
                event.run_id,
                job,
                None,
                event.event_type,
                event.event_time,
                None,
                None,
                {},
                {},
                new=True,
            )
            self.runs[event.run_id] = run
        before = (run.state, run.state_time, run.started_at, run.ended_at)
        apply_state(run, event.event_type, event.event_time, created)
        run.dirty |= before != (run.state, run.state_time, run.started_at, run.ended_at)
        run.dirty |= merge_facets(run, event.run_facets)
        merged_job_facets = {**run.job_facets, **event.job_facets}
        run.dirty |= merged_job_facets != run.job_facets
        run.job_facets = merged_job_facets
        if event.parent is not None:
            self._parent(run.run_id, event.parent, event.event_time)
        for edge, records in ((RunInput, event.inputs), (RunOutput, event.outputs)):
            for record in records:
                if edge is RunInput and record.namespace in event.read_only:
                    # Read, never written: a job edge to a bare node, no version there.
                    self.job_edges.add((job, self._node(record, read_only=True), "in"))
                    continue
                version, source = self._dataset(record, event.event_time)
                self._edge(edge, run.run_id, version, source)
                if edge is RunOutput:
                    self._columns(version, record)

    def _parent(self, run_id: str, parent: tuple[str, str, str], when: datetime) -> None:
        """Link ``run_id`` to its parent run, creating the parent job and run if unseen."""
        parent_id, namespace, name = parent
        job = (namespace, name)
        self.jobs.setdefault(job, NodeRow(None, {}, new=True))
        if parent_id not in self.runs:  # known only from its child: no event of its own yet
            self.runs[parent_id] = RunRow(
                parent_id, job, None, "OTHER", when, None, None, {}, {}, new=True
            )
        self.parents.setdefault(run_id, parent_id)

    def _edge(self, edge: intake_batch.Edge, run_id: str, version: VersionRow, source: str) -> None:
        link_version(self.edges.setdefault((edge, run_id, version.dataset), []), version, source)

    def _columns(self, version: VersionRow, record: DatasetRecord) -> None:
        fields = record.facets.get("columnLineage", {}).get("fields", {})
        for out_field, spec in fields.items():
            for item in (spec or {}).get("inputFields", []) or []:
                if not isinstance(item, dict) or not all(
                    isinstance(item.get(k), str) for k in ("namespace", "name", "field")
                ):
                    continue
                transforms = item.get("transformations") or [{}]
                first = transforms[0] if isinstance(transforms[0], dict) else {}
                ident = (str(out_field), item["namespace"], item["name"], item["field"])
                self.columns.setdefault(
                    (version.dataset, version.version, *ident),
                    (version, {"transformation": first.get("type")}),
                )

    # --- write ---------------------------------------------------------------------------------

    def write(self, inserts: Groups = (), updates: Groups = ()) -> None:
        """Write every new and changed row, with ``inserts`` and ``updates``, in one statement.

        Ids of new jobs, datasets and versions are assigned first (reserved by the read on
        PostgreSQL), so the rows that reference them are complete before anything is written.
        """
        self._assign_ids()
        new: list[tuple[type[Base], Rows]] = [
            *inserts,
            (Job, self._new_nodes(self.jobs)),
            (Dataset, self._new_nodes(self.datasets)),
            (DatasetVersion, self._new_versions()),
            (Run, [self._run_row(run) for run in self.runs.values() if run.new]),
            (RunInput, self._edge_rows(RunInput, "new")),
            (RunOutput, self._edge_rows(RunOutput, "new")),
            (ColumnLineage, self._column_rows()),
        ]
        changed: list[tuple[type[Base], Rows]] = [*updates]
        for model, nodes in ((Job, self.jobs), (Dataset, self.datasets)):
            rows = [
                {"id": node.id, "facets": node.facets, "updated_at": self.now}
                for node in nodes.values()
                if node.dirty and not node.new
            ]
            changed.append((model, rows))
        versions = [{"id": v.id, "facets": v.facets} for v in self.versions.values() if v.dirty]
        changed.append((DatasetVersion, versions))
        runs = [self._run_row(run) for run in self.runs.values() if run.dirty and not run.new]
        changed.append((Run, runs))
        for edge in intake_batch.EDGES:
            changed.append((edge, self._edge_rows(edge, "changed")))
        deleted = [(edge, self._edge_rows(edge, "deleted")) for edge in intake_batch.EDGES]
        write_all(self.session, new, changed, deleted, ignore=self._declared_rows())


def derive(
    session: Session,
    events: Sequence[ParsedEvent],
    reads: intake_batch.BatchReads,
    now: datetime,
    inserts: Groups = (),
    updates: Groups = (),
) -> None:
    """Derive the graph changes of ``events`` (new, in arrival order) and write them.

    ``reads`` holds the stored rows they touch (``lock_and_read`` of ``batch_keys``); ``inserts``
    and ``updates`` are other rows (raw events, audit entries) to write in the same statement.
    """
    batch = GraphBatch(session, reads, now)
    for event in events:
        batch.apply(event)
    batch.write(inserts, updates)
