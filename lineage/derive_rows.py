"""Rows the write of a lineage batch sends: ids assigned, then one list of rows per table.

Split from ``lineage.derive`` (which applies events to the in-memory rows): this mixin turns
those rows into what ``bulk.write_all`` inserts, updates and deletes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lineage.batch_rows import EdgeRow, Key, NodeRow, RunRow, VersionRow
from lineage.db import intake_batch
from lineage.db.bulk import Groups, allocate_ids
from lineage.db.models import (
    Dataset,
    DatasetAlias,
    DatasetVersion,
    Job,
    JobEdge,
    JobRunEdge,
    RunInput,
    RunParent,
)


class BatchRows:
    """The write side of ``lineage.derive.GraphBatch``: rows from its in-memory state."""

    session: Session
    now: datetime
    jobs: dict[Key, NodeRow]
    datasets: dict[Key, NodeRow]
    versions: dict[tuple[Key, str], VersionRow]
    runs: dict[str, RunRow]
    edges: dict[tuple[intake_batch.Edge, str, Key], list[EdgeRow]]
    columns: dict[tuple[Any, ...], tuple[VersionRow, dict[str, Any]]]
    job_edges: set[tuple[Key, Key, str]]
    parents: dict[str, str]
    aliases: dict[Key, Key]
    _reserved: Any
    _known_columns: Any

    def _declared_rows(self) -> Groups:
        """Job edges (of runs and declared), parents, aliases: inserted unless already stored."""
        return [
            (JobRunEdge, self._job_run_edge_rows()),
            (
                JobEdge,
                [
                    {
                        "job_id": self.jobs[job].id,
                        "dataset_id": self._dataset_id(ds),
                        "direction": direction,
                    }
                    for job, ds, direction in sorted(self.job_edges)
                ],
            ),
            (
                RunParent,
                [{"run_id": r, "parent_run_id": p} for r, p in sorted(self.parents.items())],
            ),
            (
                DatasetAlias,
                [
                    {"namespace": ns, "name": name, "dataset_id": self._dataset_id(ds)}
                    for (ns, name), ds in sorted(self.aliases.items())
                ],
            ),
        ]

    def _job_run_edge_rows(self) -> list[dict[str, Any]]:
        """The (job, dataset, direction) of every new run edge: its run's job read or wrote it."""
        found = set()
        for (kind, run_id, dataset), group in self.edges.items():
            if any(item.new and not item.deleted for item in group):
                run = self.runs[run_id]
                job_id = run.job_id if run.job is None else self.jobs[run.job].id
                direction = "in" if kind is RunInput else "out"
                found.add((job_id, self._dataset_id(dataset), direction))
        return [
            {"job_id": job, "dataset_id": ds, "direction": way} for job, ds, way in sorted(found)
        ]

    def _assign_ids(self) -> None:
        new_jobs = [node for node in self.jobs.values() if node.new]
        new_datasets = [node for node in self.datasets.values() if node.new]
        new_versions = [v for v in self.versions.values() if v.id is None]
        counts = {Job: len(new_jobs), Dataset: len(new_datasets), DatasetVersion: len(new_versions)}
        ids = self._reserved or allocate_ids(self.session, counts)
        for node, id_ in zip(new_jobs, ids[Job], strict=False):
            node.id = id_
        for node, id_ in zip(new_datasets, ids[Dataset], strict=False):
            node.id = id_
        for version, id_ in zip(new_versions, ids[DatasetVersion], strict=False):
            version.id = id_
        for model, count in counts.items():  # the reservation is an upper bound, never short
            if len(ids[model]) < count:
                raise RuntimeError(f"{count} new {model.__name__} rows, {len(ids[model])} ids")

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
        if found is None:
            raise RuntimeError(f"dataset {key} has no id: ids are assigned before rows are built")
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
            if run.job is None:
                raise RuntimeError(f"new run {run.run_id} has no job")
            row["job_id"] = self.jobs[run.job].id
        return row

    def _edge_rows(self, edge: intake_batch.Edge, change: str) -> list[dict[str, Any]]:
        """Rows of ``edge`` to insert (``new``), update (``changed``) or delete (``deleted``)."""
        rows = []
        for (kind, run_id, dataset), group in self.edges.items():
            if kind is not edge:
                continue
            for item in group:
                if item.new:
                    state = "gone" if item.deleted else "new"
                else:
                    state = "deleted" if item.deleted else "changed" if item.dirty else "kept"
                if state != change:
                    continue
                version_id = item.version.id if item.version is not None else item.version_id
                row = {"run_id": run_id, "dataset_version_id": version_id}
                if change != "deleted":
                    row["version_source"] = item.source
                if change == "new":
                    row["dataset_id"] = self.datasets[dataset].id
                rows.append(row)
        return rows

    def _column_rows(self) -> list[dict[str, Any]]:
        rows = []
        for (_, _, *ident), (version, extra) in self.columns.items():
            if (version.id, *ident) in self._known_columns:
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
