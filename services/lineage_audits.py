"""Lineage runs of the audits: drift, freshness and parity, each with its assertions and facets.

They ride on the data plane's emitter (``services.lineage_events``): an audit's run names the
datasets it looked at (a training-set version, the served log, online views) and asserts what it
found about them, so an auditor reads the audit's verdict beside the data's lineage.
"""

from __future__ import annotations

from typing import Any

from lineage.emitter import DatasetRef
from lineage.identity import job_name, online_dataset, served_dataset, training_set_dataset
from services.lineage_events import Runs
from services.lineage_facets import drift_facet, parity_facet
from services.settings import Settings


def emit_drift(settings: Settings, report: Any) -> str | None:
    """A drift audit run: training set + served log in, one assertion and scores per feature."""
    ts = report.training_set
    served = DatasetRef(
        name=served_dataset(report.service),
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
    return Runs(settings).emit_run(
        job_name("audit_drift", ts.name),
        inputs=[DatasetRef(name=training_set_dataset(ts.name), version=ts.version), served],
        run_facets={"skewless_drift": drift_facet(report)},
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
    return Runs(settings).emit_run(job_name("audit_freshness", settings.project), inputs=outputs)


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
    return Runs(settings).emit_run(
        job_name("audit_parity", settings.project),
        inputs=inputs,
        run_facets={"skewless_parity": parity_facet(report)},
    )
