"""Lineage events of the data plane, built from results and sent via ``lineage.emitter``.

One run per ingest, apply (one job per feature view, with its exact inputs),
materialization and training set, plus model registrations. Names come from
``lineage.identity``. Lineage never fails or blocks the data plane: the emitter
spools what it cannot deliver and replays it on the next emit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.emitter import DatasetRef, Emitter
from lineage.identity import (
    feature_view_dataset,
    job_name,
    online_dataset,
    quarantine_dataset,
    source_dataset,
    training_set_dataset,
)
from services.contracts import SourceContract
from services.contracts.schema import column_specs
from services.settings import Settings
from services.store import definition_hash

if TYPE_CHECKING:
    from services.ingestion.gate import IngestResult
    from services.offline.training import TrainingSetVersion
    from services.online.materialize import MaterializeResult
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


def emit_ingest(
    settings: Settings, result: IngestResult, contract: type[SourceContract]
) -> str | None:
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
    if result.quarantined:
        outputs.append(
            DatasetRef(
                name=quarantine_dataset(result.source),
                row_count=result.quarantined,
                assertions=() if result.dataset_version else assertions,
            )
        )
    return emitter_for(settings).emit_run(
        job_name("ingest", result.source),
        outputs=outputs,
        run_facets={
            "skewless_ingest": {
                "_producer": "skewless",
                "_schemaURL": "https://skewless.example/facets/ingest.json",
                "received": result.received,
                "written": result.written,
                "quarantined": result.quarantined,
                "policy": result.policy,
                "accepted": result.accepted,
            }
        },
    )


def emit_apply(settings: Settings, store: Store) -> list[str]:
    """One run per feature view: its source (or source views) -> the view's definition version."""
    runs = []
    emitter = emitter_for(settings)
    for fv in store.feature_views.values():
        source = fv.batch_source.name if fv.batch_source else fv.name
        version = definition_hash(fv)
        fields = tuple((f.name, str(f.dtype), f.description) for f in fv.features)
        runs.append(
            emitter.emit_run(
                job_name("apply", fv.name),
                inputs=[DatasetRef(name=source_dataset(source))],
                outputs=[
                    DatasetRef(name=feature_view_dataset(fv.name), version=version, fields=fields)
                ],
            )
        )
    for odfv in store.odfvs.values():
        version = definition_hash(odfv)
        inputs = [
            DatasetRef(name=feature_view_dataset(p.name))
            for p in odfv.source_feature_view_projections.values()
        ]
        runs.append(
            emitter.emit_run(
                job_name("apply", odfv.name),
                inputs=inputs,
                outputs=[DatasetRef(name=feature_view_dataset(odfv.name), version=version)],
            )
        )
    return runs


def emit_materialize(settings: Settings, results: list[MaterializeResult]) -> list[str]:
    emitter = emitter_for(settings)
    return [
        emitter.emit_run(
            job_name("materialize", r.view),
            inputs=[DatasetRef(name=feature_view_dataset(r.view))],
            outputs=[DatasetRef(name=online_dataset(r.view), row_count=r.entities)],
        )
        for r in results
    ]


def emit_training_set(settings: Settings, version: TrainingSetVersion) -> str | None:
    inputs = [
        DatasetRef(name=source_dataset(src), version=v)
        for src, versions in version.dataset_versions.items()
        for v in versions
    ]
    inputs += [
        DatasetRef(name=feature_view_dataset(view), version=h)
        for view, h in version.view_hashes.items()
    ]
    return emitter_for(settings).emit_run(
        job_name("training_set", version.name),
        inputs=inputs,
        outputs=[
            DatasetRef(
                name=training_set_dataset(version.name),
                version=version.version,
                row_count=version.rows,
            )
        ],
    )


def emit_model(
    settings: Settings,
    name: str,
    version: str,
    training_set_version: str,
    metrics: Mapping[str, float],
) -> None:
    emitter_for(settings).register_model(name, version, training_set_version, metrics)


def lineage_summary(settings: Settings) -> str:
    summary: Any = emitter_for(settings).summary()
    if summary is None:
        return f"events sent to {settings.lineage_url}"
    return ", ".join(f"{k}: {v}" for k, v in summary.items())


def emit_drift(settings: Settings, report: Any) -> str | None:
    """A drift audit run: training set + served log in, one assertion and scores per feature."""
    ts = report.training_set
    served = DatasetRef(
        name=f"served/{report.service}",
        row_count=report.current_rows,
        metrics={"rowCount": float(report.current_rows)},
        assertions=tuple(
            (
                f"drift:{f.method}{'<' if 'p_value' in f.method else '<='}{f.threshold}",
                not f.drifted,
                f.feature,
            )
            for f in report.features
        ),
    )
    return emitter_for(settings).emit_run(
        job_name("audit_drift", ts.name),
        inputs=[DatasetRef(name=training_set_dataset(ts.name), version=ts.version), served],
        run_facets={
            "skewless_drift": {
                "_producer": "skewless",
                "_schemaURL": "https://skewless.example/facets/drift.json",
                "datasetDrift": report.dataset_drift,
                "driftedFeatures": report.drifted_features,
                "scores": {
                    f.feature: {k: v for k, v in f.scores.items() if v == v}
                    for f in report.features
                },
            }
        },
    )


def emit_freshness(settings: Settings, views: list[Any]) -> str | None:
    """A freshness audit run: per view, the online dataset with its age assertion and counts."""
    outputs = [
        DatasetRef(
            name=online_dataset(v.view),
            row_count=v.online,
            metrics={"rowCount": float(v.online)},
            assertions=((f"freshness:newest_age<={int(v.slo_s)}s", not v.breached, None),),
        )
        for v in views
    ]
    return emitter_for(settings).emit_run(
        job_name("audit_freshness", settings.project), inputs=outputs
    )


def emit_parity(settings: Settings, report: Any) -> str | None:
    """A parity audit run: per view, cells compared and an assertion of zero mismatches."""
    inputs = [
        DatasetRef(
            name=online_dataset(v.view),
            row_count=v.entities,
            metrics={"rowCount": float(v.entities)},
            assertions=((f"parity:mismatches==0 ({v.cells} cells)", not v.mismatches, None),),
        )
        for v in report.views
    ]
    return emitter_for(settings).emit_run(
        job_name("audit_parity", settings.project),
        inputs=inputs,
        run_facets={
            "skewless_parity": {
                "_producer": "skewless",
                "_schemaURL": "https://skewless.example/facets/parity.json",
                "passed": report.passed,
                "mismatches": len(report.mismatches),
                "cells": sum(v.cells for v in report.views),
            }
        },
    )
