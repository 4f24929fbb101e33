"""Deriving the lineage graph from a batch of new events, with a fixed number of statements.

The rules are those of one event at a time (see ``lineage.service``): jobs and datasets are
upserted with their facets merged; a dataset mention resolves to the version its ``version``
facet names, else a hash of its schema, else the dataset's latest version; runs keep an
order-tolerant state; a run keeps one edge per dataset, and a stronger version source replaces a
weaker one; outputs record column lineage. A batch applies the events in order to an in-memory
copy of the rows they touch (read with one query per table), then writes what changed with one
statement per table and kind of change. The caller holds ``lock_intake`` so nobody writes the
same rows in between.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lineage.batch_rows import EdgeRow, Key, NodeRow, RunRow, VersionRow, apply_state, merge_facets
from lineage.db import intake_sql as sql
from lineage.db.bulk import Rows, allocate_ids, insert_all, update_by_pk
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
from lineage.events import DatasetRecord, ParsedEvent
from lineage.rules import VERSION_PRECEDENCE, explicit_version, schema_hash

_NEW_ORDER = 1 << 62  # new rows sort after every stored id, in creation order


class GraphBatch:
    """The rows a batch of events touches, read once, changed in memory, written once."""

    def __init__(self, session: Session, events: Sequence[ParsedEvent], now: datetime) -> None:
        self.session = session
        self.now = now
        self._counter = itertools.count(_NEW_ORDER)
        self.jobs: dict[Key, NodeRow] = {}
        self.datasets: dict[Key, NodeRow] = {}
        self.versions: dict[tuple[Key, str], VersionRow] = {}
        self.latest: dict[Key, VersionRow | None] = {}
        self.runs: dict[str, RunRow] = {}
        self.edges: dict[tuple[type[RunInput] | type[RunOutput], str, Key], EdgeRow] = {}
        self.columns: dict[tuple[Any, ...], tuple[VersionRow, dict[str, Any]]] = {}
        self._load(events)

    # --- read ----------------------------------------------------------------------------------

    def _load(self, events: Sequence[ParsedEvent]) -> None:
        job_keys: set[Key] = set()
        records: list[DatasetRecord] = []
        run_ids: set[str] = set()
        for event in events:
            if event.job_namespace is not None and event.job_name is not None:
                job_keys.add((event.job_namespace, event.job_name))
            if event.kind == "run" and event.run_id is not None:
                run_ids.add(event.run_id)
                records.extend((*event.inputs, *event.outputs))
            if event.dataset is not None:
                records.append(event.dataset)
        for key, (id_, facets) in sql.jobs_by_keys(self.session, job_keys).items():
            self.jobs[key] = NodeRow(id_, facets)
        ds_keys = {(r.namespace, r.name) for r in records}
        stored = sql.datasets_by_keys(self.session, ds_keys)
        for key, (id_, facets) in stored.items():
            self.datasets[key] = NodeRow(id_, facets)
        by_id = {node.id: key for key, node in self.datasets.items()}
        wanted = set()
        for record in records:
            explicit = explicit_version(record)
            key = (record.namespace, record.name)
            if explicit is not None and key in stored:
                wanted.add((stored[key][0], explicit[0]))
        for row in sql.versions_by_keys(self.session, wanted):
            self._remember(by_id[row.dataset_id], row)
        # The latest version is only consulted for a mention that names no version.
        inferred = {(r.namespace, r.name) for r in records if explicit_version(r) is None}
        latest_of = [stored[key][0] for key in inferred if key in stored]
        for row in sql.latest_versions(self.session, latest_of):
            self.latest[by_id[row.dataset_id]] = self._remember(by_id[row.dataset_id], row)
        for row in sql.runs_by_ids(self.session, run_ids):
            self.runs[row.run_id] = RunRow(
                row.run_id,
                None,
                row.job_id,
                row.state,
                row.state_time,
                row.started_at,
                row.ended_at,
                row.facets,
                row.job_facets,
                new=False,
            )
        self._load_edges(by_id)

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

    def _load_edges(self, by_id: dict[int | None, Key]) -> None:
        stored_runs = [run_id for run_id, run in self.runs.items() if not run.new]
        for edge in (RunInput, RunOutput):
            for (run_id, ds_id), (_, source) in sql.run_edges(
                self.session, edge, stored_runs
            ).items():
                if ds_id in by_id:  # edges to datasets this batch does not mention stay as they are
                    self.edges[(edge, run_id, by_id[ds_id])] = EdgeRow(None, source, new=False)

    # --- apply ---------------------------------------------------------------------------------

    def apply(self, event: ParsedEvent) -> None:
        """Apply one event's graph changes to the in-memory rows."""
        if event.kind == "dataset" and event.dataset is not None:
            self._dataset(event.dataset, event.event_time)
        elif event.kind == "job":
            self._job(event)
        else:
            self._run(event)

    def _job(self, event: ParsedEvent) -> Key:
        assert event.job_namespace is not None, "validated"
        assert event.job_name is not None, "validated"
        key = (event.job_namespace, event.job_name)
        node = self.jobs.setdefault(key, NodeRow(None, {}, new=True))
        if event.job_facets:
            node.dirty |= merge_facets(node, event.job_facets)
        return key

    def _dataset(self, record: DatasetRecord, when: datetime) -> tuple[VersionRow, str]:
        key = (record.namespace, record.name)
        node = self.datasets.setdefault(key, NodeRow(None, {}, new=True))
        if record.facets:
            node.dirty |= merge_facets(node, record.facets)
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
        assert event.run_id is not None, "validated"
        assert event.event_type is not None, "validated"
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
        for edge, records in ((RunInput, event.inputs), (RunOutput, event.outputs)):
            for record in records:
                version, source = self._dataset(record, event.event_time)
                self._edge(edge, run.run_id, version, source)
                if edge is RunOutput:
                    self._columns(version, record)

    def _edge(
        self, edge: type[RunInput] | type[RunOutput], run_id: str, version: VersionRow, source: str
    ) -> None:
        key = (edge, run_id, version.dataset)
        found = self.edges.get(key)
        if found is None:
            self.edges[key] = EdgeRow(version, source, new=True)
        elif VERSION_PRECEDENCE[source] > VERSION_PRECEDENCE[found.source]:
            found.version, found.source, found.dirty = version, source, True

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

    def write(self, also: Sequence[tuple[type[Base], Rows]] = ()) -> None:
        """Write every new row (with ``also``) in one statement, then every changed row.

        Ids of new jobs, datasets and versions are reserved first, so the rows that reference
        them are complete before anything is written.
        """
        self._assign_ids()
        inserts: list[tuple[type[Base], Rows]] = [
            *also,
            (Job, self._new_nodes(self.jobs)),
            (Dataset, self._new_nodes(self.datasets)),
            (DatasetVersion, self._new_versions()),
            (Run, [self._run_row(run) for run in self.runs.values() if run.new]),
            (RunInput, self._edge_rows(RunInput, new=True)),
            (RunOutput, self._edge_rows(RunOutput, new=True)),
            (ColumnLineage, self._column_rows()),
        ]
        insert_all(self.session, inserts)
        for model, nodes in ((Job, self.jobs), (Dataset, self.datasets)):
            changed = [
                {"id": node.id, "facets": node.facets, "updated_at": self.now}
                for node in nodes.values()
                if node.dirty and not node.new
            ]
            update_by_pk(self.session, model, changed)
        versions = [{"id": v.id, "facets": v.facets} for v in self.versions.values() if v.dirty]
        update_by_pk(self.session, DatasetVersion, versions)
        runs = [self._run_row(run) for run in self.runs.values() if run.dirty and not run.new]
        update_by_pk(self.session, Run, runs)
        for edge in (RunInput, RunOutput):
            update_by_pk(self.session, edge, self._edge_rows(edge, new=False))

    def _assign_ids(self) -> None:
        new_jobs = [node for node in self.jobs.values() if node.new]
        new_datasets = [node for node in self.datasets.values() if node.new]
        new_versions = [v for v in self.versions.values() if v.id is None]
        ids = allocate_ids(
            self.session,
            {Job: len(new_jobs), Dataset: len(new_datasets), DatasetVersion: len(new_versions)},
        )
        for node, id_ in zip(new_jobs, ids[Job], strict=True):
            node.id = id_
        for node, id_ in zip(new_datasets, ids[Dataset], strict=True):
            node.id = id_
        for version, id_ in zip(new_versions, ids[DatasetVersion], strict=True):
            version.id = id_

    def _new_nodes(self, nodes: dict[Key, NodeRow]) -> list[dict[str, Any]]:
        return [
            {
                "id": node.id,
                "namespace": ns,
                "name": name,
                "facets": node.facets,
                "created_at": self.now,
                "updated_at": self.now,
            }
            for (ns, name), node in nodes.items()
            if node.new
        ]

    def _new_versions(self) -> list[dict[str, Any]]:
        rows = []
        for v in self.versions.values():
            if v.stored:
                continue
            v.dirty = False  # its merged facets go out with the new row
            rows.append(
                {
                    "id": v.id,
                    "dataset_id": self._dataset_id(v.dataset),
                    "version": v.version,
                    "version_source": v.source,
                    "schema_fields": v.schema_fields,
                    "facets": v.facets,
                    "created_at": v.created_at,
                }
            )
        return rows

    def _dataset_id(self, key: Key) -> int:
        found = self.datasets[key].id
        assert found is not None, "ids are assigned before rows are built"
        return found

    def _run_row(self, run: RunRow) -> dict[str, Any]:
        row = {
            "run_id": run.run_id,
            "state": run.state,
            "state_time": run.state_time,
            "started_at": run.started_at,
            "ended_at": run.ended_at,
            "facets": run.facets,
            "job_facets": run.job_facets,
        }
        if run.new:
            assert run.job is not None
            row["job_id"] = self.jobs[run.job].id
        return row

    def _edge_rows(
        self, edge: type[RunInput] | type[RunOutput], *, new: bool
    ) -> list[dict[str, Any]]:
        rows = []
        for (kind, run_id, dataset), item in self.edges.items():
            if kind is not edge or item.new is not new or not (item.new or item.dirty):
                continue
            assert item.version is not None, "a new or changed edge names its version"
            rows.append(
                {
                    "run_id": run_id,
                    "dataset_id": self.datasets[dataset].id,
                    "dataset_version_id": item.version.id,
                    "version_source": item.source,
                }
            )
        return rows

    def _column_rows(self) -> list[dict[str, Any]]:
        stored = {v.id for v, _ in self.columns.values() if v.stored and v.id is not None}
        known = sql.column_lineage_keys(self.session, stored)
        rows = []
        for (_, _, *ident), (version, extra) in self.columns.items():
            if (version.id, *ident) in known:
                continue
            out_field, in_ns, in_name, in_field = ident
            rows.append(
                {
                    "dataset_version_id": version.id,
                    "output_field": out_field,
                    "input_namespace": in_ns,
                    "input_name": in_name,
                    "input_field": in_field,
                    **extra,
                }
            )
        return rows


def derive(
    session: Session,
    events: Sequence[ParsedEvent],
    now: datetime,
    also: Sequence[tuple[type[Base], Rows]] = (),
) -> None:
    """Derive the graph changes of ``events`` (new, in arrival order) and write them.

    ``also`` holds other new rows (the raw events) to insert in the same statement.
    """
    batch = GraphBatch(session, events, now)
    for event in events:
        batch.apply(event)
    batch.write(also)
