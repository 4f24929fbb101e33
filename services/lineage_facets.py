"""Skewless's own OpenLineage facets (run facets, the definition dataset facet) and their schemas.

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


def _owner_facets(owner: str, description: str) -> dict[str, Any]:
    """OpenLineage's own ``ownership`` and ``documentation`` dataset facets."""
    from openlineage.client.generated import documentation_dataset, ownership_dataset

    facets: dict[str, Any] = {}
    if owner:
        owners = [ownership_dataset.Owner(name=owner, type="owner")]
        facets["ownership"] = ownership_dataset.OwnershipDatasetFacet(owners=owners)
    if description:
        facets["documentation"] = documentation_dataset.DocumentationDatasetFacet(description)
    return facets


def definition_facets(obj: Any, kind: str, *, source: str | None = None) -> dict[str, Any]:
    """A definition's governance as dataset facets: owner, description and ``skewless_definition``.

    ``skewless_definition`` holds what a catalog shows beside the schema: the kind, the ttl,
    the entities, the batch source and, per field, its owner and PII classification.

    Args:
        obj: A Feast feature view, on-demand view or feature service.
        kind: ``feature_view``, ``on_demand_feature_view`` or ``feature_service``.
        source: The batch source's name, when the definition reads one.

    """
    from services.governance import field_facts

    owner = str(getattr(obj, "owner", "") or "")
    ttl = getattr(obj, "ttl", None)
    fields = [
        {
            "name": name,
            "owner": tags.get("owner", owner),
            "pii": tags.get("pii", "").lower() == "true",
            "classification": tags.get("classification") or None,
        }
        for name, _, tags in (field_facts(obj) if kind != "feature_service" else [])
    ]
    definition = _facet(
        "SkewlessDefinitionDatasetFacet",
        kind=kind,
        owner=owner,
        ttlSeconds=None if not ttl else int(ttl.total_seconds()),
        entities=sorted(getattr(obj, "entities", None) or []),
        source=source,
        fields=fields,
    )
    return {**_owner_facets(owner, str(obj.description or "")), "skewless_definition": definition}
