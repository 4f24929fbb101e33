"""The shared storage suite: intake, versions, runs and queries, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lineage import service
from lineage.db.models import ColumnLineage, DatasetVersion, LineageEvent, RunInput
from lineage.db.session import session_scope
from lineage.errors import Conflict, InvalidEvent, InvalidQuery, NotFound

Golden = Callable[[str], dict[str, Any]]


def ingest(maker: sessionmaker[Session], *events: dict[str, Any]) -> list[service.IngestResult]:
    out = []
    for event in events:
        with session_scope(maker) as s:
            out.append(service.ingest_event(s, event))
    return out


def count(maker: sessionmaker[Session], model: Any) -> int:
    with session_scope(maker) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def load_pipeline(maker: sessionmaker[Session], golden: Golden) -> None:
    ingest(maker, golden("ingest_start"), golden("ingest_complete"), golden("training_complete"))
    with session_scope(maker) as s:
        service.register_model(s, "churn", "1", "ts-v1", {"auc": 0.91})
        service.register_deployment(s, "churn", "1", "production")


class TestLineageStore:
    def test_run_is_recorded_with_exact_versions(self, maker, golden) -> None:
        load_pipeline(maker, golden)
        with session_scope(maker) as s:
            summary = service.summary(s)
        assert summary["runs"] == {"COMPLETE": 2}
        assert summary["datasets"] == 3
        assert summary["dataset_versions"] == 3
        assert summary["jobs"] == 2
        assert summary["models"] == 1

    def test_duplicate_event_is_a_no_op(self, maker, golden) -> None:
        first, again = ingest(maker, golden("ingest_complete"), golden("ingest_complete"))
        assert (first.duplicate, again.duplicate) == (False, True)
        assert first.event_hash == again.event_hash
        assert count(maker, LineageEvent) == 1
        assert count(maker, DatasetVersion) == 2

    def test_complete_before_start_ends_complete(self, maker, golden) -> None:
        ingest(maker, golden("ingest_complete"), golden("ingest_start"))
        with session_scope(maker) as s:
            summary = service.summary(s)
            graph = service.lineage_graph(s, "run:0190a1b2-0000-7000-8000-000000000001", 0, None)
        assert summary["runs"] == {"COMPLETE": 1}
        data = graph["graph"][0]["data"]
        assert data["startedAt"].startswith("2026-11-20T10:00:00")
        assert data["endedAt"].startswith("2026-11-20T10:01:00")

    def test_later_fail_overrides_earlier_complete_only_by_event_time(self, maker, golden) -> None:
        fail = golden("ingest_complete")
        fail["eventType"], fail["eventTime"] = "FAIL", "2026-11-20T09:59:00+00:00"
        ingest(maker, golden("ingest_complete"), fail)
        with session_scope(maker) as s:
            assert service.summary(s)["runs"] == {"COMPLETE": 1}

    def test_version_is_schema_hash_without_facet_and_not_per_run(self, maker, golden) -> None:
        events = []
        for run in ("0190a1b2-0000-7000-8000-0000000000a1", "0190a1b2-0000-7000-8000-0000000000a2"):
            event = copy.deepcopy(golden("ingest_complete"))
            event["run"]["runId"] = run
            del event["outputs"][0]["facets"]["version"]
            events.append(event)
        ingest(maker, *events)
        with session_scope(maker) as s:
            versions = s.scalars(select(DatasetVersion.version_source)).all()
        assert sorted(versions) == ["facet", "schema"]  # raw input (facet) + one schema version

    def test_input_links_to_the_version_it_read(self, maker, golden) -> None:
        load_pipeline(maker, golden)
        newer = copy.deepcopy(golden("ingest_complete"))
        newer["run"]["runId"] = "0190a1b2-0000-7000-8000-0000000000ff"
        newer["outputs"][0]["facets"]["version"]["datasetVersion"] = "off-v2"
        ingest(maker, newer)
        with session_scope(maker) as s:
            found = service.provenance(s, "churn", "1")
        versions = {(d["name"], d["version"]) for d in found["datasetVersions"]}
        assert ("offline/customer_transactions", "off-v1") in versions
        assert ("offline/customer_transactions", "off-v2") not in versions

    def test_provenance_names_versions_runs_and_code(self, maker, golden) -> None:
        load_pipeline(maker, golden)
        with session_scope(maker) as s:
            found = service.provenance(s, "churn", "1")
        assert found["trainingSet"]["version"] == "ts-v1"
        assert found["metrics"] == {"auc": 0.91}
        versions = {(d["name"], d["version"]) for d in found["datasetVersions"]}
        assert versions == {
            ("training_set/churn", "ts-v1"),
            ("offline/customer_transactions", "off-v1"),
            ("raw/customer_transactions", "raw-v1"),
        }
        assert {r["job"]["name"] for r in found["runs"]} == {
            "ingest.customer_transactions",
            "training_set.churn",
        }
        assert {r["codeVersion"] for r in found["runs"]} == {"abc123"}

    def test_impact_reaches_models_and_deployments_transitively(self, maker, golden) -> None:
        load_pipeline(maker, golden)
        with session_scope(maker) as s:
            found = service.impact(s, "skewless", "raw/customer_transactions", "raw-v1")
        assert [t["version"] for t in found["trainingSets"]] == ["ts-v1"]
        assert found["modelVersions"] == [
            {
                "name": "churn",
                "version": "1",
                "trainingSetVersion": "ts-v1",
                "deployments": ["production"],
                "deploymentDetails": [
                    {
                        "environment": "production",
                        "featureService": None,
                        "deployedAt": found["modelVersions"][0]["deploymentDetails"][0][
                            "deployedAt"
                        ],
                    }
                ],
            }
        ]

    def test_graph_is_marquez_shaped_and_bounded(self, maker, golden) -> None:
        load_pipeline(maker, golden)
        with session_scope(maker) as s:
            graph = service.lineage_graph(s, "dataset:skewless:raw/customer_transactions", 10, None)
            one = service.lineage_graph(s, "dataset:skewless:raw/customer_transactions", 1, None)
            with pytest.raises(InvalidQuery):
                service.lineage_graph(s, "dataset:skewless:raw/customer_transactions", 21, None)
            small = service.lineage_graph(
                s, "dataset:skewless:raw/customer_transactions", 10, None, max_nodes=3
            )
        ids = {n["id"] for n in graph["graph"]}
        assert "model:churn:1" in ids
        assert "job:skewless:ingest.customer_transactions" in ids
        raw = next(n for n in graph["graph"] if n["id"].startswith("dataset:skewless:raw"))
        assert raw["outEdges"] == [
            {"origin": raw["id"], "destination": "job:skewless:ingest.customer_transactions"}
        ]
        assert {n["type"] for n in one["graph"]} == {"DATASET", "JOB"}
        assert len(small["graph"]) == 3
        assert small["truncated"] is True

    def test_version_graph_goes_through_runs(self, maker, golden) -> None:
        load_pipeline(maker, golden)
        node = "datasetVersion:skewless:offline/customer_transactions#off-v1"
        with session_scope(maker) as s:
            graph = service.lineage_graph(s, node, 10, None)
        types = {n["type"] for n in graph["graph"]}
        assert types == {"DATASET_VERSION", "RUN", "MODEL"}

    def test_graph_nodes_show_schema_fields_and_code_version(self, maker, golden) -> None:
        load_pipeline(maker, golden)
        event = golden("ingest_complete")
        version = "datasetVersion:skewless:offline/customer_transactions#off-v1"
        with session_scope(maker) as s:
            graph = service.lineage_graph(s, "dataset:skewless:raw/customer_transactions", 10, None)
            runs = service.lineage_graph(s, version, 1, None)
        data = {n["id"]: n["data"] for n in graph["graph"]}
        schema = event["inputs"][0]["facets"]["schema"]["fields"]
        assert data["dataset:skewless:raw/customer_transactions"]["fields"] == schema
        assert data["dataset:skewless:training_set/churn"]["fields"] == []  # no schema facet
        location = event["job"]["facets"]["sourceCodeLocation"]
        code = {"codeVersion": location["version"], "codeLocation": location["url"]}
        expected = {**code, "codeLanguage": None}
        job = data["job:skewless:ingest.customer_transactions"]
        assert {key: job[key] for key in expected} == expected
        run_data = [n["data"] for n in runs["graph"] if n["type"] == "RUN"]
        assert len(run_data) == 2
        assert all({key: run[key] for key in expected} == expected for run in run_data)

    def test_column_lineage_is_derived(self, maker, golden) -> None:
        ingest(maker, golden("ingest_complete"))
        with session_scope(maker) as s:
            row = s.scalars(select(ColumnLineage)).one()
        assert (row.output_field, row.input_field, row.transformation) == (
            "amount",
            "amount",
            "DIRECT",
        )

    def test_dataset_and_job_events_are_stored(self, maker, golden) -> None:
        results = ingest(maker, golden("dataset_event"), golden("job_event"))
        assert [r.kind for r in results] == ["dataset", "job"]
        with session_scope(maker) as s:
            summary = service.summary(s)
        assert (summary["datasets"], summary["jobs"]) == (1, 1)

    @pytest.mark.parametrize(
        ("mutate", "field"),
        [
            (lambda e: e.pop("eventTime"), "eventTime"),
            (lambda e: e.update(eventTime="yesterday"), "eventTime"),
            (lambda e: e.update(eventTime="2026-11-20T10:00:00"), "eventTime"),
            # Valid ISO-8601, but year 10000 (or year 0) once in UTC: no backend can hold it.
            (lambda e: e.update(eventTime="9999-12-31T23:59:59-01:00"), "eventTime"),
            (lambda e: e.update(eventTime="0001-01-01T00:00:00+01:00"), "eventTime"),
            (lambda e: e.pop("producer"), "producer"),
            (lambda e: e.pop("schemaURL"), "schemaURL"),
            (lambda e: e["run"].update(runId="not-a-uuid"), "run.runId"),
            (lambda e: e["job"].update(name=""), "job.name"),
            (lambda e: e["job"].pop("namespace"), "job.namespace"),
            (lambda e: e.update(eventType="BOGUS"), "eventType"),
            (lambda e: e["outputs"][0].pop("name"), "outputs[0].name"),
            (
                lambda e: e["inputs"][0]["facets"]["version"].pop("datasetVersion"),
                "inputs[0].facets.version.datasetVersion",
            ),
        ],
    )
    def test_invalid_event_names_the_field_and_writes_nothing(
        self, maker, golden, mutate, field
    ) -> None:
        event = golden("ingest_complete")
        mutate(event)
        with pytest.raises(InvalidEvent) as err, session_scope(maker) as s:
            service.ingest_event(s, event)
        assert err.value.field == field
        assert count(maker, LineageEvent) == 0

    def test_model_version_is_immutable(self, maker, golden) -> None:
        other = golden("training_complete")  # a second training-set version, ts-b
        other["run"]["runId"] = "0190a1b2-0000-7000-8000-000000000003"
        other["outputs"][0]["facets"]["version"]["datasetVersion"] = "ts-b"
        ingest(maker, golden("training_complete"), other)
        with session_scope(maker) as s:
            service.register_model(s, "m", "1", "ts-v1", {})
            service.register_model(s, "m", "1", "ts-v1", {})
        with pytest.raises(Conflict), session_scope(maker) as s:
            service.register_model(s, "m", "1", "ts-b", {})

    def test_unknown_nodes_are_not_found(self, maker) -> None:
        with session_scope(maker) as s:
            with pytest.raises(NotFound):
                service.lineage_graph(s, "dataset:skewless:nope", 1, None)
            with pytest.raises(InvalidQuery):
                service.lineage_graph(s, "table:x", 1, None)
            with pytest.raises(NotFound):
                service.provenance(s, "nope", "1")

    def test_namespace_with_colons_is_addressable(self, maker, golden) -> None:
        event = golden("ingest_start")
        event["inputs"][0]["namespace"] = "postgres://db:5432"
        ingest(maker, event)
        with session_scope(maker) as s:
            graph = service.lineage_graph(
                s, "dataset:postgres://db:5432:raw/customer_transactions", 1, None
            )
        assert graph["graph"][0]["data"]["namespace"] == "postgres://db:5432"

    def test_inferred_input_is_upgraded_by_an_explicit_version(self, maker, golden) -> None:
        start = golden("ingest_start")
        del start["inputs"][0]["facets"]
        ingest(maker, start, golden("ingest_complete"))
        with session_scope(maker) as s:
            sources = s.scalars(select(RunInput.version_source)).all()
        assert sources == ["facet"]

    def test_a_run_links_every_version_it_names_of_one_dataset(self, maker, golden) -> None:
        """A training set reads several versions of a source: each one is linked, while a
        stronger mention (a version facet) still replaces what a weaker one (inferred) linked."""
        ingest(maker, golden("ingest_complete"))  # offline/customer_transactions at off-v1
        later = copy.deepcopy(golden("ingest_complete"))
        later["run"]["runId"] = "0190a1b2-0000-7000-8000-0000000000fe"
        later["outputs"][0]["facets"]["version"]["datasetVersion"] = "off-v2"
        ingest(maker, later)
        start = golden("training_complete")
        start["eventType"] = "START"
        del start["inputs"][0]["facets"]  # names no version: the latest (off-v2) is inferred
        complete = golden("training_complete")
        second = copy.deepcopy(complete["inputs"][0])
        second["facets"]["version"]["datasetVersion"] = "off-v2"
        complete["inputs"].append(second)
        ingest(maker, start, complete)
        stmt = (
            select(DatasetVersion.version, RunInput.version_source)
            .join(RunInput, RunInput.dataset_version_id == DatasetVersion.id)
            .where(RunInput.run_id == complete["run"]["runId"])
        )
        with session_scope(maker) as s:
            edges = sorted(tuple(row) for row in s.execute(stmt))
            hit = service.impact(s, "skewless", "offline/customer_transactions", "off-v2")
        assert edges == [("off-v1", "facet"), ("off-v2", "facet")]
        assert "training_set/churn" in json.dumps(hit)

    def test_a_facet_integer_beyond_64_bits_is_stored_exactly(self, maker, golden) -> None:
        """JSON numbers have no size limit; a facet holding 2**70 keeps every digit."""
        event = golden("ingest_complete")
        event["outputs"][0]["facets"]["stats"] = {"_producer": "p", "_schemaURL": "s", "n": 2**70}
        ingest(maker, event)
        with session_scope(maker) as s:
            facets = s.scalars(select(DatasetVersion.facets)).all()
            payload = s.scalar(select(LineageEvent.payload))
        assert {"_producer": "p", "_schemaURL": "s", "n": 2**70} in [f.get("stats") for f in facets]
        assert payload["outputs"][0]["facets"]["stats"]["n"] == 2**70
