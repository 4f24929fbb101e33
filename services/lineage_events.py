"""Lineage events of the data plane, built from results and sent via ``lineage.emitter``.

One run per ingest, per feature view, on-demand view and feature service applied (each with its
exact inputs), per materialization and per training set, plus model registrations. Every dataset
mention names its version, so nothing is left to the intake's "latest version" guess:

- ``offline/<source>``: the content hash of the accepted rows (the dataset version id);
- ``quarantine/<source>``: the content hash of the quarantine file;
- ``data_source/<source>``, ``feature_view/<view>``, ``feature_service/<service>``: definition
  versions (``services.store``), so re-applying an unchanged definition records no new version;
- ``online/<view>``: the view's definition version and the dataset versions materialized into it
  (an unchanged definition over the same versions holds the same rows);
- ``training_set/<name>``: the training-set version.

Column lineage is emitted where it is exact: feature-view fields <- data-source columns,
feature-service and online fields <- feature-view fields, training-set columns <- feature-view
fields (an on-demand view's UDF is opaque, so its fields get none). Names come from
``lineage.identity``. Lineage never fails or blocks the data plane: the emitter spools what it
cannot deliver and replays it on the next emit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from lineage.emitter import ColumnInput, DatasetRef, Emitter
from lineage.identity import (
    NAMESPACE,
    data_source_dataset,
    dataset_node,
    feature_service_dataset,
    feature_view_dataset,
    job_name,
    online_dataset,
    quarantine_dataset,
    source_dataset,
    training_set_dataset,
)
from services.code_version import code_facets, code_version
from services.contracts import SourceContract
from services.contracts.schema import column_specs
from services.definition_versions import definition_hash, service_version, view_version
from services.lineage_facets import definition_facets, ingest_facet
from services.settings import Settings

if TYPE_CHECKING:
    from feast import FeatureView

    from services.ingestion.gate import IngestResult
    from services.offline.training import TrainingSetVersion
    from services.online.materialize import MaterializeResult
    from services.resolution import ViewRead
    from services.store import Store

_EMITTERS: dict[tuple[str, str, str], Emitter] = {}


def emitter_for(settings: Settings) -> Emitter:
    """One emitter per lineage destination and process."""
    key = (
        settings.effective_lineage_database_url,
        settings.lineage_url,
        str(settings.lineage_spool_path),
    )
    if key not in _EMITTERS:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        _EMITTERS[key] = Emitter(
            database_url=settings.effective_lineage_database_url,
            url=settings.lineage_url,
            token=settings.lineage_token,
            spool_path=settings.lineage_spool_path,
        )
    return _EMITTERS[key]


class Runs:
    """The emitter for one data-plane action; every run carries the repository's code version."""

    def __init__(self, settings: Settings) -> None:
        self._emitter = emitter_for(settings)
        self._job_facets = code_facets(settings.repo_path)

    def emit_run(self, job: str, **parts: Any) -> str:
        return self._emitter.emit_run(job, job_facets=self._job_facets, **parts)


def _fields(contract: type[SourceContract]) -> tuple[tuple[str, str, str], ...]:
    return tuple((c.name, c.kind, c.description) for c in column_specs(contract))


def _assertions(
    contract: type[SourceContract], report_path: str
) -> tuple[tuple[str, bool, str | None], ...]:
    """One assertion per contract check: passed unless the report lists failures for it."""
    failed: set[tuple[str, str | None]] = set()
    path = Path(report_path)
    if path.exists():
        report = json.loads(path.read_text())
        failed = {(c["check"], c["column"]) for c in report.get("checks", [])}
    out: list[tuple[str, bool, str | None]] = []
    for spec in column_specs(contract):
        checks = [f"dtype({spec.kind})"]
        if not spec.nullable:
            checks.append("not_nullable")
        if spec.ge is not None:
            checks.append(f"greater_than_or_equal_to({spec.ge})")
        if spec.le is not None:
            checks.append(f"less_than_or_equal_to({spec.le})")
        if spec.allowed is not None:
            checks.append("isin")
        for check in checks:
            bad = any(
                c == (check, spec.name)
                or (check == "isin" and c[0].startswith("isin") and c[1] == spec.name)
                for c in failed
            )
            out.append((check, not bad, spec.name))
    out.append(("unique_key", ("duplicate_key", "key") not in failed, None))
    return tuple(out)


def _file_fields(path: str) -> tuple[tuple[str, str, str], ...]:
    """The columns of a parquet file as schema fields (name, Arrow type, no description)."""
    return tuple((f.name, str(f.type), "") for f in pq.read_schema(path))


def _file_version(prefix: str, path: str) -> str:
    """A content hash of a file, as a dataset version id."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return f"{prefix}{digest.hexdigest()[:16]}"


def _identity(fields: list[str], dataset: str) -> tuple[ColumnInput, ...]:
    """Column lineage of fields copied unchanged from the same-named fields of ``dataset``."""
    return tuple(ColumnInput(f, dataset, f) for f in fields)


def emit_ingest(
    settings: Settings, result: IngestResult, contract: type[SourceContract]
) -> str | None:
    """One run: the new dataset version and the quarantine, with counts and assertions."""
    outputs = []
    assertions = _assertions(contract, result.report_path)
    if result.dataset_version:
        outputs.append(
            DatasetRef(
                name=source_dataset(result.source),
                version=result.dataset_version,
                fields=_fields(contract),
                row_count=result.written,
                assertions=assertions,
            )
        )
    if result.quarantined and result.quarantine_path:
        outputs.append(
            DatasetRef(
                name=quarantine_dataset(result.source),
                version=_file_version("q", result.quarantine_path),
                fields=_file_fields(result.quarantine_path),
                row_count=result.quarantined,
                assertions=() if result.dataset_version else assertions,
            )
        )
    return Runs(settings).emit_run(
        job_name("ingest", result.source),
        outputs=outputs,
        run_facets={"skewless_ingest": ingest_facet(result)},
    )


def _view_fields(view: Any) -> tuple[tuple[str, str, str], ...]:
    return tuple((f.name, str(f.dtype), f.description) for f in view.features)


def _view_ref(store: Store, view: str, **facts: Any) -> DatasetRef:
    """A feature view (batch or on-demand) at its current definition version."""
    return DatasetRef(name=feature_view_dataset(view), version=view_version(store, view), **facts)


def _apply_view(store: Store, fv: FeatureView) -> tuple[list[DatasetRef], DatasetRef]:
    """A batch view's apply: its data-source definition -> its definition version."""
    from services.resolution import plan_view

    if fv.batch_source is None:
        facets = definition_facets(fv, "feature_view")
        return [], _view_ref(store, fv.name, fields=_view_fields(fv), facets=facets)
    facets = definition_facets(fv, "feature_view", source=fv.batch_source.name)
    source = data_source_dataset(fv.batch_source.name)
    contract = store.repository.contract(plan_view(store, fv.name).source)
    inputs = [
        DatasetRef(name=source, version=definition_hash(fv.batch_source), fields=_fields(contract))
    ]
    columns = _identity([f.name for f in fv.features], source)
    output = _view_ref(
        store, fv.name, fields=_view_fields(fv), column_lineage=columns, facets=facets
    )
    return inputs, output


def emit_apply(settings: Settings, store: Store) -> list[str]:
    """One run per view and per feature service applied, each with exactly its own inputs.

    A batch view reads its data-source definition, an on-demand view the views it is computed
    from, a feature service the views it selects; each writes its definition version.
    """
    runs = []
    emitter = Runs(settings)
    for fv in store.feature_views.values():
        inputs, output = _apply_view(store, fv)
        runs.append(emitter.emit_run(job_name("apply", fv.name), inputs=inputs, outputs=[output]))
    for odfv in store.odfvs.values():
        inputs = [_view_ref(store, p.name) for p in odfv.source_feature_view_projections.values()]
        facets = definition_facets(odfv, "on_demand_feature_view")
        output = _view_ref(store, odfv.name, fields=_view_fields(odfv), facets=facets)
        runs.append(emitter.emit_run(job_name("apply", odfv.name), inputs=inputs, outputs=[output]))
    for fs in store.services.values():
        projections = fs.feature_view_projections
        output = DatasetRef(
            name=feature_service_dataset(fs.name),
            version=service_version(store, fs.name),
            fields=tuple(f for p in projections for f in _view_fields(p)),
            column_lineage=tuple(
                c
                for p in projections
                for c in _identity([f.name for f in p.features], feature_view_dataset(p.name))
            ),
            facets=definition_facets(fs, "feature_service"),
        )
        inputs = [_view_ref(store, p.name) for p in projections]
        job = job_name("apply_feature_service", fs.name)
        runs.append(emitter.emit_run(job, inputs=inputs, outputs=[output]))
    return runs


def online_version(result: MaterializeResult) -> str:
    """The online table's version after ``result``: the view's definition and what it holds."""
    text = json.dumps([result.view_version, sorted(result.materialized)])
    return "o" + hashlib.sha256(text.encode()).hexdigest()[:16]


def _online_fields(settings: Settings, read: ViewRead) -> tuple[tuple[str, str, str], ...]:
    """The online table's columns: entity key, event time, then the view's features."""
    from services.applied import repository_path
    from services.repository import load_repository

    features = {f.name for f in read.features}
    specs = column_specs(load_repository(repository_path(settings)).contract(read.source))
    keep = [c for c in specs if c.role in ("entity", "event_timestamp")]
    keep += [c for c in specs if c.name in features]
    return tuple((c.name, c.kind, c.description) for c in keep)


def emit_materialize(settings: Settings, results: list[MaterializeResult]) -> list[str]:
    """One run per view: the dataset versions read and the view's definition -> online table."""
    emitter = Runs(settings)
    runs = []
    for r in results:
        view = feature_view_dataset(r.view)
        inputs = [DatasetRef(name=source_dataset(r.read.source), version=v) for v in r.versions]
        inputs.append(DatasetRef(name=view, version=r.view_version))
        output = DatasetRef(
            name=online_dataset(r.view),
            version=online_version(r),
            fields=_online_fields(settings, r.read),
            row_count=r.entities,
            column_lineage=_identity([f.name for f in r.read.features], view),
        )
        runs.append(
            emitter.emit_run(job_name("materialize", r.view), inputs=inputs, outputs=[output])
        )
    return runs


def emit_training_set(settings: Settings, version: TrainingSetVersion) -> str | None:
    """One run: source versions, view versions and the feature service -> the training set."""
    inputs = [
        DatasetRef(name=source_dataset(src), version=v)
        for src, versions in version.dataset_versions.items()
        for v in versions
    ]
    inputs += [
        DatasetRef(name=feature_view_dataset(view), version=version.view_versions.get(view, h))
        for view, h in version.view_hashes.items()
    ]
    if version.service_version:
        inputs.append(
            DatasetRef(
                name=feature_service_dataset(version.service), version=version.service_version
            )
        )
    columns = tuple(
        c
        for view, names in version.features.items()
        for c in _identity(names, feature_view_dataset(view))
    )
    return Runs(settings).emit_run(
        job_name("training_set", version.name),
        inputs=inputs,
        outputs=[
            DatasetRef(
                name=training_set_dataset(version.name),
                version=version.version,
                fields=_file_fields(version.path) if Path(version.path).exists() else (),
                row_count=version.rows,
                column_lineage=columns,
            )
        ],
    )


def emit_model(
    settings: Settings,
    name: str,
    version: str,
    training_set_version: str,
    metrics: Mapping[str, float],
    *,
    training_set: str | None = None,
) -> None:
    """Register a model version against the training-set version it was trained on.

    ``training_set`` is the training set's name, when known: it tells lineage which training
    set is meant should several hold the same version.
    """
    node = (
        None
        if training_set is None
        else dataset_node(NAMESPACE, training_set_dataset(training_set))
    )
    code = code_version(settings.repo_path)
    emitter_for(settings).register_model(
        name,
        version,
        training_set_version,
        metrics,
        training_set=node,
        code_version=code.version if code else None,
    )


def emit_deployment(
    settings: Settings, model: str, version: str, environment: str, feature_service: str
) -> None:
    """Record that a model version serves in ``environment`` from ``feature_service``."""
    emitter_for(settings).register_deployment(model, version, environment, feature_service)


def lineage_summary(settings: Settings) -> str:
    """One line of the lineage graph's counts (or where events went, over HTTP)."""
    summary: Any = emitter_for(settings).summary()
    if summary is None:
        return f"events sent to {settings.lineage_url}"
    return summary_line(summary)


def summary_line(summary: Mapping[str, Any]) -> str:
    """The graph's counts for a person: "dataset versions: 20; runs: 15 COMPLETE".

    ``skewless lineage summary --json`` is the form for scripts.
    """
    parts = []
    for key, value in summary.items():
        if isinstance(value, Mapping):
            value = ", ".join(f"{n} {state}" for state, n in sorted(value.items())) or "none"
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)
