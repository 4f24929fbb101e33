"""The demo domain run through the real data-plane paths, and reads of the lineage it emitted.

Shared by the lineage-emission tests: ingest, apply, materialize and training sets go through the
same functions as ``skewless ...`` and the demo; the lineage database is read back only through
``lineage.service`` queries (plus the column-lineage rows, which no query returns whole).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lineage import service
from lineage.db.models import ColumnLineage, Dataset, DatasetVersion
from lineage.db.session import make_engine, make_sessionmaker, session_scope
from lineage.identity import NAMESPACE
from services.definition_versions import definition_hash
from services.ingestion.gate import IngestResult, ingest_file
from services.lineage_events import emit_apply, emit_materialize
from services.online.materialize import MaterializeResult, materialize
from services.sdk import Client
from services.settings import Settings
from services.store import Store, load_definitions


@dataclass
class Project:
    """One Feast project with the demo's raw files and an SDK client."""

    settings: Settings
    client: Client
    files: Any

    def ingest_all(self) -> dict[str, IngestResult]:
        store = self.client.store
        return {name: ingest_file(store, name, path) for name, path in self.files.paths.items()}

    def apply(self, repo: Path | None = None) -> list[str]:
        """``skewless apply`` without the lint: register the definitions, emit their lineage."""
        self.client.store.apply(load_definitions(repo or self.settings.repo_path))
        return emit_apply(self.settings, self.client.store)

    def materialize(self) -> list[MaterializeResult]:
        results = materialize(self.client.store)
        emit_materialize(self.settings, results)
        return results

    def entities(self) -> pd.DataFrame:
        return pd.read_parquet(self.files.entities)


def data_source_version(store: Store, view: str) -> str:
    """The definition version of a batch view's data source."""
    source = store.feature_views[view].batch_source
    assert source is not None
    return definition_hash(source)


@contextmanager
def lineage_session(url: str) -> Iterator[Session]:
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


def dataset_node(name: str) -> str:
    return f"dataset:{NAMESPACE}:{name}"


def version_node(name: str, version: str) -> str:
    return f"datasetVersion:{NAMESPACE}:{name}#{version}"


def versions(session: Session, name: str) -> list[str]:
    """Every version of a dataset, newest first."""
    items = service.history(session, dataset_node(name), limit=500)["items"]
    return [item["version"] for item in items]


def run_ids(session: Session, job: str) -> list[str]:
    """Every run of a job, newest first."""
    items = service.history(session, f"job:{NAMESPACE}:{job}", limit=500)["items"]
    return [item["runId"] for item in items]


def _edges(node: dict[str, object]) -> tuple[set[str], set[str]]:
    ins = {str(e["origin"]) for e in node["inEdges"]}  # type: ignore[attr-defined]
    outs = {str(e["destination"]) for e in node["outEdges"]}  # type: ignore[attr-defined]
    return ins, outs


def job_io(session: Session, job: str) -> tuple[set[str], set[str]]:
    """The datasets a job's runs read and wrote (current lineage), by name."""
    start = f"job:{NAMESPACE}:{job}"
    graph = service.lineage_graph(session, start, 1, None)["graph"]
    ins, outs = _edges(next(n for n in graph if n["id"] == start))
    prefix = len(dataset_node(""))
    return {i[prefix:] for i in ins}, {o[prefix:] for o in outs}


def run_io(session: Session, run_id: str) -> tuple[set[str], set[str]]:
    """The dataset versions one run read and wrote, as ``datasetVersion`` node ids."""
    start = f"run:{run_id}"
    graph = service.lineage_graph(session, start, 1, None)["graph"]
    return _edges(next(n for n in graph if n["id"] == start))


def fields_of(session: Session, name: str) -> list[str]:
    """The schema fields of a dataset as the graph shows it."""
    graph = service.lineage_graph(session, dataset_node(name), 0, None)["graph"]
    return [f["name"] for f in graph[0]["data"]["fields"]]


def column_lineage(session: Session, name: str, version: str) -> set[tuple[str, str, str]]:
    """(output field, input dataset, input field) recorded for one dataset version."""
    stmt = (
        select(ColumnLineage.output_field, ColumnLineage.input_name, ColumnLineage.input_field)
        .join(DatasetVersion, DatasetVersion.id == ColumnLineage.dataset_version_id)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(
            Dataset.namespace == NAMESPACE, Dataset.name == name, DatasetVersion.version == version
        )
    )
    return {(o, n, f) for o, n, f in session.execute(stmt)}
