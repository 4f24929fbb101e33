"""Skewless's own OpenLineage run facets, and where their JSON schemas are published.

Each custom facet has a JSON schema in ``services/facets/`` (shipped with the package and kept
in the repository under the URL its ``_schemaURL`` names); ``tests/unit/test_lineage_facets.py``
validates what these builders produce against those files, so the schema a consumer fetches is
the one the facet follows.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.emitter import PRODUCER

if TYPE_CHECKING:
    from services.ingestion.gate import IngestResult

SCHEMA_DIR = Path(__file__).resolve().parent / "facets"
SCHEMA_BASE = "https://github.com/skewless/skewless/blob/main/services/facets/"


def schema_url(name: str) -> str:
    """The ``_schemaURL`` of the facet whose schema is ``services/facets/<name>.json``."""
    return f"{SCHEMA_BASE}{name}.json#/$defs/{name}"


def _facet(name: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": schema_url(name), **fields}


def ingest_facet(result: IngestResult) -> dict[str, Any]:
    """``skewless_ingest``: received, written and quarantined rows, the policy and verdict."""
    return _facet(
        "SkewlessIngestRunFacet",
        received=result.received,
        written=result.written,
        quarantined=result.quarantined,
        policy=result.policy,
        accepted=result.accepted,
    )


def drift_facet(report: Any) -> dict[str, Any]:
    """``skewless_drift``: the verdict, the drifted features and each feature's scores."""
    return _facet(
        "SkewlessDriftRunFacet",
        datasetDrift=report.dataset_drift,
        driftedFeatures=report.drifted_features,
        scores={
            f.feature: {k: v for k, v in f.scores.items() if not math.isnan(v)}
            for f in report.features
        },
    )


def parity_facet(report: Any) -> dict[str, Any]:
    """``skewless_parity``: whether every compared cell matched, mismatches and cells."""
    return _facet(
        "SkewlessParityRunFacet",
        passed=report.passed,
        mismatches=len(report.mismatches),
        cells=sum(v.cells for v in report.views),
    )
