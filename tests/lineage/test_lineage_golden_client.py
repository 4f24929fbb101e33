"""A golden event as the openlineage-python client itself writes it, and what intake makes of it.

``tests/fixtures/client_training_complete.json`` is ``Serde.to_json`` of the event built below
(the client's own classes and facets: schema, version, column lineage, source code location). If
a new client release writes it differently, the first test fails and the fixture is regenerated
with ``write_golden()`` after checking what changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated import (
    column_lineage_dataset,
    dataset_version_dataset,
    schema_dataset,
    source_code_location_job,
)
from openlineage.client.serde import Serde
from sqlalchemy import select

from lineage import service
from lineage.db.models import ColumnLineage
from lineage.db.session import session_scope

GOLDEN = Path(__file__).parents[1] / "fixtures" / "client_training_complete.json"


def client_event() -> RunEvent:
    code = source_code_location_job.SourceCodeLocationJobFacet(
        type="git", url="https://github.com/skewless/skewless", version="abc123"
    )
    field = schema_dataset.SchemaDatasetFacetFields(name="amount", type="DOUBLE")
    source = column_lineage_dataset.InputField(
        namespace="skewless", name="offline/customer_transactions", field="amount"
    )
    return RunEvent(
        eventType=RunState.COMPLETE,
        eventTime="2026-11-20T12:00:00+00:00",
        run=Run(runId="0190a1b2-0000-7000-8000-0000000000c1"),
        job=Job(
            namespace="skewless",
            name="training_set.churn_client",
            facets={"sourceCodeLocation": code},
        ),
        producer="https://github.com/skewless/skewless/tree/main/tests",
        inputs=[
            InputDataset(
                namespace="skewless",
                name="offline/customer_transactions",
                facets={
                    "version": dataset_version_dataset.DatasetVersionDatasetFacet("off-v1"),
                    "schema": schema_dataset.SchemaDatasetFacet(fields=[field]),
                },
            )
        ],
        outputs=[
            OutputDataset(
                namespace="skewless",
                name="training_set/churn_client",
                facets={
                    "version": dataset_version_dataset.DatasetVersionDatasetFacet("ts-client-1"),
                    "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet(
                        fields={"amount": column_lineage_dataset.Fields(inputFields=[source])}
                    ),
                },
            )
        ],
    )


def write_golden() -> None:
    """Regenerate the fixture from the installed client."""
    GOLDEN.write_text(json.dumps(json.loads(Serde.to_json(client_event())), indent=2) + "\n")


def golden() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GOLDEN.read_text())
    return data


def test_the_fixture_is_what_the_client_writes() -> None:
    assert json.loads(Serde.to_json(client_event())) == golden()


def test_intake_records_the_clients_versions_code_and_column_lineage(maker) -> None:
    with session_scope(maker) as s:
        result = service.ingest_event(s, golden())
    assert not result.duplicate
    with session_scope(maker) as s:
        found = service.lineage_graph(s, "job:skewless:training_set.churn_client", 1, None)
        columns = s.execute(
            select(ColumnLineage.output_field, ColumnLineage.input_name, ColumnLineage.input_field)
        ).all()
    nodes = {node["id"]: node for node in found["graph"]}
    assert set(nodes) == {
        "job:skewless:training_set.churn_client",
        "dataset:skewless:offline/customer_transactions",
        "dataset:skewless:training_set/churn_client",
    }
    assert [tuple(c) for c in columns] == [("amount", "offline/customer_transactions", "amount")]
    job = nodes["job:skewless:training_set.churn_client"]["data"]
    assert "abc123" in json.dumps(job)
