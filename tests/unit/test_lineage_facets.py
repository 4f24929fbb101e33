"""Skewless's custom run facets follow the JSON schemas their ``_schemaURL`` names."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import pytest

from services.audits.drift import DriftReport, FeatureDrift
from services.audits.parity import Mismatch, ParityReport, ViewParity
from services.ingestion.gate import IngestResult
from services.lineage_facets import SCHEMA_BASE, SCHEMA_DIR, drift_facet, ingest_facet, parity_facet


def _check(facet: dict[str, Any]) -> None:
    """Validate against the file the URL points at: the facet's own part and the RunFacet base."""
    url = facet["_schemaURL"]
    assert url.startswith(SCHEMA_BASE)
    name = url.rsplit("/", 1)[1]
    schema = json.loads((SCHEMA_DIR / url[len(SCHEMA_BASE) :].split("#")[0]).read_text())
    own = schema["$defs"][name]["allOf"][1]  # [0] is OpenLineage's RunFacet (_producer, _schemaURL)
    jsonschema_rs.validate(own, facet)
    assert set(facet) == {"_producer", "_schemaURL", *own["properties"]}
    assert facet["_producer"].startswith("https://")


def test_the_ingest_facet_follows_its_schema() -> None:
    result = IngestResult("src", 10, 7, 3, "v1", "q.parquet", "r.json", True, "quarantine")
    facet = ingest_facet(result)
    _check(facet)
    assert (facet["received"], facet["written"], facet["quarantined"]) == (10, 7, 3)


def test_the_drift_facet_follows_its_schema_and_leaves_nan_scores_out() -> None:
    features = [
        FeatureDrift("a", "numeric", "ks_p_value", 0.01, 0.05, True, {"ks_p_value": 0.01}),
        FeatureDrift("b", "numeric", "ks_p_value", 0.5, 0.05, False, {"ks": float("nan")}),
    ]
    facet = drift_facet(DriftReport(None, "svc", 10, 10, features))  # type: ignore[arg-type]
    _check(facet)
    assert facet["driftedFeatures"] == ["a"]
    assert facet["scores"] == {"a": {"ks_p_value": 0.01}, "b": {}}


def test_the_parity_facet_follows_its_schema() -> None:
    miss = Mismatch("v", 1, "f", 1.0, 2.0, "offline")
    report = ParityReport(datetime.now(UTC), [ViewParity("v", 2, 6, [miss])])
    facet = parity_facet(report)
    _check(facet)
    assert (facet["passed"], facet["mismatches"], facet["cells"]) == (False, 1, 6)


def test_a_facet_breaking_its_schema_is_caught() -> None:
    facet = parity_facet(ParityReport(datetime.now(UTC), []))
    facet["cells"] = -1
    with pytest.raises(jsonschema_rs.ValidationError):
        _check(facet)


def test_the_definition_facet_follows_its_schema_with_owner_ttl_and_pii() -> None:
    from datetime import timedelta

    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float32, String

    from services.lineage_facets import definition_facets

    src = FileSource(name="src", path="x.parquet", timestamp_field="ts")
    view = FeatureView(
        name="v",
        entities=[Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT64)],
        ttl=timedelta(days=2),
        schema=[
            Field(name="score", dtype=Float32, tags={"owner": "risk@x"}),
            Field(name="email", dtype=String, tags={"pii": "true", "classification": "contact"}),
        ],
        source=src,
        owner="team@x",
        description="a view",
    )
    facets = definition_facets(view, "feature_view", source="src")
    definition = facets["skewless_definition"]
    schema = json.loads((SCHEMA_DIR / "SkewlessDefinitionDatasetFacet.json").read_text())
    own = schema["$defs"]["SkewlessDefinitionDatasetFacet"]["allOf"][1]
    jsonschema_rs.validate(own, definition)
    assert (definition["ttlSeconds"], definition["entities"], definition["source"]) == (
        172800,
        ["customer"],
        "src",
    )
    assert definition["fields"] == [
        {"name": "score", "owner": "risk@x", "pii": False, "classification": None},
        {"name": "email", "owner": "team@x", "pii": True, "classification": "contact"},
    ]
    assert facets["ownership"].owners[0].name == "team@x"
    assert facets["documentation"].description == "a view"
