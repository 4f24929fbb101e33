"""The model registry: a model's own namespace governs every write to it, and each model version
links to exactly one training-set version lineage holds. Over HTTP, in-process, through the
emitter's spool, and across the migration that introduced the link; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from lineage import service
from lineage.db.migrate import alembic_config
from lineage.db.models import Dataset, DatasetVersion, Model, ModelVersion
from lineage.db.session import make_engine, make_sessionmaker, session_scope
from lineage.emitter import DatasetRef, Emitter
from lineage.errors import InvalidEvent, InvalidReference
from lineage.identity import job_name, source_dataset, training_set_dataset
from tests.lineage.test_lineage_http import ServiceThread, free_port

Golden = Callable[[str], dict[str, Any]]
LINEAGE = "/api/v1/lineage"
MODELS = "/api/v1/models"
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def training_set_event(
    golden: Golden, name: str, version: str, run: str, namespace: str = "skewless"
) -> dict[str, Any]:
    """The golden training-set run, writing ``training_set/<name>`` at ``version``."""
    event = golden("training_complete")
    event["run"]["runId"] = f"0190a1b2-0000-7000-8000-0000000000{run}"
    event["job"].update(namespace=namespace, name=f"training_set.{name}")
    event["inputs"][0]["namespace"] = namespace
    event["outputs"][0].update(namespace=namespace, name=f"training_set/{name}")
    event["outputs"][0]["facets"]["version"]["datasetVersion"] = version
    return event


@pytest.fixture
def tokens(client: TestClient, make_token, golden: Golden) -> dict[str, str]:
    """ingest -> training_set/churn@ts-v1 -> model churn v1 (skewless); training_set/fin@ts-fin."""
    tokens = {
        "admin": make_token("root", "admin", "*"),
        "producer": make_token("ingestor", "producer", "skewless"),
        "finance": make_token("fin", "producer", "finance"),
    }
    admin = bearer(tokens["admin"])
    events = [golden("ingest_start"), golden("ingest_complete"), golden("training_complete")]
    events.append(training_set_event(golden, "fin", "ts-fin", "21", namespace="finance"))
    feature_service = golden("dataset_event")  # the feature service deployments name
    feature_service["dataset"]["name"] = "feature_service/fs"
    events.append(feature_service)
    for event in events:
        assert client.post(LINEAGE, json=event, headers=admin).status_code == 201
    churn = {"name": "churn", "version": "1", "trainingSetVersion": "ts-v1"}
    assert client.post(MODELS, json=churn, headers=admin).status_code == 201
    return tokens


def versions_of(client: TestClient, admin: str, model: str) -> list[str]:
    found = client.get(
        "/api/v1/history", params={"nodeId": f"model:{model}:1"}, headers=bearer(admin)
    )
    return sorted(item["version"] for item in found.json()["items"])


class TestModelNamespace:
    def test_a_producer_of_another_namespace_cannot_add_a_version(self, client, tokens) -> None:
        body = {
            "name": "churn",
            "version": "2",
            "trainingSetVersion": "ts-v1",
            "namespace": "finance",
        }
        response = client.post(MODELS, json=body, headers=bearer(tokens["finance"]))
        assert response.status_code == 403, response.text
        assert "'skewless'" in response.json()["detail"]  # the model's own namespace decided
        assert versions_of(client, tokens["admin"], "churn") == ["1"]

    def test_naming_another_namespace_than_the_models_is_409(self, client, tokens) -> None:
        body = {
            "name": "churn",
            "version": "2",
            "trainingSetVersion": "ts-v1",
            "namespace": "finance",
        }
        response = client.post(MODELS, json=body, headers=bearer(tokens["admin"]))
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "conflict"
        assert "lives in namespace 'skewless', not 'finance'" in response.json()["detail"]
        assert versions_of(client, tokens["admin"], "churn") == ["1"]

    def test_an_omitted_namespace_is_the_models_own(self, client, tokens) -> None:
        body = {"name": "churn", "version": "2", "trainingSetVersion": "ts-v1"}
        response = client.post(MODELS, json=body, headers=bearer(tokens["producer"]))
        assert response.status_code == 201, response.text
        assert response.json() == {
            "name": "churn",
            "version": "2",
            "namespace": "skewless",
            "trainingSetVersion": "ts-v1",
            "trainingSet": "datasetVersion:skewless:training_set/churn#ts-v1",
        }
        fin = {
            "name": "fin",
            "version": "1",
            "trainingSetVersion": "ts-fin",
            "namespace": "finance",
        }
        assert client.post(MODELS, json=fin, headers=bearer(tokens["finance"])).status_code == 201
        fin_next = {"name": "fin", "version": "2", "trainingSetVersion": "ts-fin"}
        refused = client.post(MODELS, json=fin_next, headers=bearer(tokens["producer"]))
        assert refused.status_code == 403  # fin lives in finance, whatever the body omits
        assert (
            client.post(MODELS, json=fin_next, headers=bearer(tokens["finance"])).status_code == 201
        )

    def test_a_deployment_is_governed_by_the_models_namespace(self, client, tokens) -> None:
        body = {"model": "churn", "version": "1", "featureService": "fs", "environment": "prod"}
        deployments = "/api/v1/deployments"
        assert (
            client.post(deployments, json=body, headers=bearer(tokens["finance"])).status_code
            == 403
        )
        assert (
            client.post(deployments, json=body, headers=bearer(tokens["producer"])).status_code
            == 201
        )


class TestTrainingSetLink:
    def test_an_unknown_training_set_version_is_422_and_writes_nothing(
        self, client, tokens
    ) -> None:
        body = {"name": "m", "version": "1", "trainingSetVersion": "ts-nope"}
        response = client.post(MODELS, json=body, headers=bearer(tokens["admin"]))
        assert response.status_code == 422, response.text
        error = response.json()
        assert (error["code"], error["field"]) == ("invalid_reference", "trainingSetVersion")
        assert "'ts-nope'" in error["detail"]
        missing = client.get("/api/v1/provenance/models/m/1", headers=bearer(tokens["admin"]))
        assert missing.status_code == 404

    def test_a_hidden_training_set_is_as_unknown_as_a_missing_one(self, client, tokens) -> None:
        producer = bearer(tokens["producer"])
        hidden = client.post(
            MODELS,
            json={"name": "m", "version": "1", "trainingSetVersion": "ts-fin"},
            headers=producer,
        )
        missing = client.post(
            MODELS,
            json={"name": "m", "version": "1", "trainingSetVersion": "ts-zzz"},
            headers=producer,
        )
        assert hidden.status_code == missing.status_code == 422
        assert hidden.json()["detail"] == missing.json()["detail"].replace("ts-zzz", "ts-fin")

    def test_an_ambiguous_version_must_name_its_training_set(self, client, tokens, golden) -> None:
        admin = bearer(tokens["admin"])
        twin = training_set_event(golden, "churn_b", "ts-v1", "22")
        twin["inputs"][0].update(name="raw/customer_transactions")  # other upstream data
        twin["inputs"][0]["facets"]["version"]["datasetVersion"] = "raw-v1"
        assert client.post(LINEAGE, json=twin, headers=admin).status_code == 201
        body = {"name": "m", "version": "1", "trainingSetVersion": "ts-v1"}
        ambiguous = client.post(MODELS, json=body, headers=admin)
        assert ambiguous.status_code == 422, ambiguous.text
        detail = ambiguous.json()["detail"]
        assert "dataset:skewless:training_set/churn," in detail
        assert "dataset:skewless:training_set/churn_b" in detail
        named = {**body, "trainingSet": "dataset:skewless:training_set/churn_b"}
        created = client.post(MODELS, json=named, headers=admin)
        assert created.status_code == 201, created.text
        assert created.json()["trainingSet"] == "datasetVersion:skewless:training_set/churn_b#ts-v1"
        assert client.post(MODELS, json=named, headers=admin).status_code == 201  # a repeat
        other = {**body, "trainingSet": "dataset:skewless:training_set/churn"}
        assert client.post(MODELS, json=other, headers=admin).status_code == 409

        found = client.get("/api/v1/provenance/models/m/1", headers=admin).json()
        assert found["trainingSet"]["name"] == "training_set/churn_b"
        assert {v["version"] for v in found["datasetVersions"]} == {"ts-v1", "raw-v1"}
        graph = client.get(LINEAGE, params={"nodeId": "model:m:1", "depth": 1}, headers=admin)
        ids = {n["id"] for n in graph.json()["graph"]}
        assert ids == {"model:m:1", "dataset:skewless:training_set/churn_b"}

        def impacted(dataset: str, version: str) -> set[str]:
            params = {"namespace": "skewless", "dataset": dataset, "version": version}
            answer = client.get("/api/v1/impact", params=params, headers=admin).json()
            return {m["name"] for m in answer["modelVersions"]}

        assert impacted("offline/customer_transactions", "off-v1") == {"churn"}
        assert impacted("raw/customer_transactions", "raw-v1") == {"churn", "m"}

    def test_in_process_an_unknown_version_is_an_invalid_reference(self, maker) -> None:
        with pytest.raises(InvalidReference) as err, session_scope(maker) as s:
            service.register_model(s, "m", "1", "ts-nope", {})
        assert isinstance(err.value, InvalidEvent)  # the emitter sets it aside, never retries
        with session_scope(maker) as s:
            assert s.scalars(select(Model)).all() == []


# --- the data plane's flow through the emitter ---------------------------------------------


def _emit_training_set_and_model(emitter: Emitter, version: str) -> None:
    raw = DatasetRef(source_dataset("customers"), version="v1")
    ts = DatasetRef(training_set_dataset("churn"), version=version, row_count=10)
    emitter.emit_run(job_name("training_set", "churn"), inputs=[raw], outputs=[ts])
    emitter.register_model("churn", "1", version, {"auc": 0.8})


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_spooled_training_set_then_model_are_linked_when_replayed(
    settings, make_token, maker, tmp_path
) -> None:
    port = free_port()
    spool = tmp_path / "spool.jsonl"
    token = make_token("pipeline", "producer", "skewless")
    emitter = Emitter(
        database_url="", url=f"http://127.0.0.1:{port}", token=token, spool_path=spool
    )
    _emit_training_set_and_model(emitter, "ts-spooled")
    assert [r["kind"] for r in _lines(spool)] == ["event", "event", "model"]  # service down
    with ServiceThread(settings, port):
        assert emitter.flush() == 3
    emitter.close()
    assert _lines(spool) == []
    assert _lines(tmp_path / "spool.jsonl.rejected.jsonl") == []
    with session_scope(maker) as s:
        found = service.provenance(s, "churn", "1")
    assert found["trainingSet"]["name"] == "training_set/churn"
    assert {d["version"] for d in found["datasetVersions"]} == {"v1", "ts-spooled"}


@pytest.fixture
def live(settings) -> Iterator[ServiceThread]:
    with ServiceThread(settings, free_port()) as svc:
        yield svc


def test_a_model_on_an_unknown_training_set_is_set_aside_not_retried(
    live, make_token, maker, tmp_path
) -> None:
    spool = tmp_path / "spool.jsonl"
    token = make_token("pipeline", "producer", "skewless")
    emitter = Emitter(database_url="", url=live.url, token=token, spool_path=spool)
    emitter.register_model("lost", "1", "ts-never-emitted", {})
    _emit_training_set_and_model(emitter, "ts-after")  # not blocked behind the rejected record
    emitter.close()
    assert _lines(spool) == []
    assert [r["body"]["name"] for r in _lines(tmp_path / "spool.jsonl.rejected.jsonl")] == ["lost"]
    with session_scope(maker) as s:
        assert service.provenance(s, "churn", "1")["trainingSetVersion"] == "ts-after"


def test_the_in_process_emitter_sets_an_unknown_training_set_aside(db_url, maker, tmp_path) -> None:
    spool = tmp_path / "spool.jsonl"
    emitter = Emitter(database_url=db_url, spool_path=spool)
    emitter.register_model("lost", "1", "ts-never-emitted", {})
    _emit_training_set_and_model(emitter, "ts-local")
    emitter.close()
    assert _lines(spool) == []
    assert [r["body"]["name"] for r in _lines(tmp_path / "spool.jsonl.rejected.jsonl")] == ["lost"]
    with session_scope(maker) as s:
        assert service.provenance(s, "churn", "1")["trainingSet"]["version"] == "ts-local"


# --- the migration that introduced the link ------------------------------------------------


def test_the_migration_links_existing_versions_only_where_unambiguous(fresh_url: str) -> None:
    command.upgrade(alembic_config(fresh_url), "0002")
    now = datetime.now(UTC)
    engine = make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            for i, name in enumerate(["training_set/a", "training_set/b", "offline/x"], start=1):
                values = {"facets": {}, "created_at": now, "updated_at": now}
                conn.execute(
                    insert(Dataset).values(id=i, namespace="skewless", name=name, **values)
                )
            for i, (dataset, version) in enumerate(
                [(1, "v1"), (1, "dup"), (2, "dup"), (3, "v3")], start=1
            ):
                conn.execute(
                    insert(DatasetVersion).values(
                        id=i,
                        dataset_id=dataset,
                        version=version,
                        version_source="producer",
                        schema_fields={},
                        facets={},
                        created_at=now,
                    )
                )
            conn.execute(insert(Model).values(id=1, name="m", namespace="skewless", created_at=now))
            for i, version in enumerate(["v1", "dup", "v3", "unknown"], start=1):
                conn.execute(
                    insert(ModelVersion).values(
                        id=i,
                        model_id=1,
                        version=str(i),
                        training_set_version=version,
                        metrics={},
                        created_at=now,
                    )
                )
        command.upgrade(alembic_config(fresh_url), "head")
        with session_scope(make_sessionmaker(engine)) as s:
            rows = s.execute(select(ModelVersion.version, ModelVersion.training_set_version_id))
            links = {version: link for version, link in rows}
    finally:
        engine.dispose()
    # v1 names one training set version; dup two; v3 is not a training set; unknown nothing
    assert links == {"1": 1, "2": None, "3": None, "4": None}
