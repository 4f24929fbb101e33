"""Feature-view usage and reads, batched read audit, graph as of a time, node history and
deployments: the service, the HTTP API and the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lineage import service
from lineage.access import ReadAuditor
from lineage.audit_verify import verify_chain
from lineage.cli import app as cli_app
from lineage.db.models import AuditLog
from lineage.db.session import make_engine, make_sessionmaker, session_scope
from lineage.errors import InvalidQuery, NotFound, NotVisible

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"

NS = "skewless"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ds(
    name: str,
    version: str | None = None,
    fields: tuple[str, ...] = (),
    columns: dict[str, list[tuple[str, str]]] | None = None,
    namespace: str = NS,
) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    meta = {"_producer": "tests", "_schemaURL": "https://x/facet.json"}
    if version is not None:
        facets["version"] = {**meta, "datasetVersion": version}
    if fields:
        facets["schema"] = {**meta, "fields": [{"name": f, "type": "int64"} for f in fields]}
    if columns:
        facets["columnLineage"] = {
            **meta,
            "fields": {
                out: {"inputFields": [{"namespace": NS, "name": n, "field": f} for n, f in ins]}
                for out, ins in columns.items()
            },
        }
    return {"namespace": namespace, "name": name, "facets": facets}


def run_event(
    job: str,
    when: datetime,
    *,
    inputs: list[dict[str, Any]] = (),  # type: ignore[assignment]
    outputs: list[dict[str, Any]] = (),  # type: ignore[assignment]
    event_type: str = "COMPLETE",
    run_id: str | None = None,
    namespace: str = NS,
) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": when.isoformat(),
        "producer": "tests",
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run_id or str(uuid.uuid4()), "facets": {}},
        "job": {"namespace": namespace, "name": job, "facets": {}},
        "inputs": list(inputs),
        "outputs": list(outputs),
    }


RUNS = {
    name: str(uuid.UUID(int=i + 1)) for i, name in enumerate(["ingest", "ts1", "ts2", "mat", "fin"])
}


def pipeline() -> list[dict[str, Any]]:
    """ingest (t1) -> apply two views (t2) -> two training sets (t3, t4) -> materialize (t5).

    ``risk`` (fields a, b, c) is read by ts-1 (no column lineage: all fields) and by ts-2, which
    declares column lineage using only ``risk.a`` and ``profile.p``. ``profile`` (p, q) is read
    by ts-2 only. ``unused`` (x, y) is read by a training set no model is trained on.
    """
    return [
        run_event(
            "ingest.txn",
            at(1),
            event_type="START",
            run_id=RUNS["ingest"],
            outputs=[ds("offline/txn", "off-v1", ("a", "b", "c"))],
        ),
        run_event(
            "ingest.txn",
            at(2),
            run_id=RUNS["ingest"],
            outputs=[ds("offline/txn", "off-v1", ("a", "b", "c"))],
        ),
        run_event(
            "apply.risk",
            at(3),
            inputs=[ds("offline/txn")],
            outputs=[ds("feature_view/risk", "h-risk", ("a", "b", "c"))],
        ),
        run_event(
            "apply.profile",
            at(3),
            inputs=[ds("offline/txn")],
            outputs=[ds("feature_view/profile", "h-prof", ("p", "q"))],
        ),
        run_event(
            "apply.unused",
            at(3),
            inputs=[ds("offline/txn")],
            outputs=[ds("feature_view/unused", "h-un", ("x", "y"))],
        ),
        run_event(
            "training_set.churn",
            at(4),
            run_id=RUNS["ts1"],
            inputs=[ds("offline/txn", "off-v1"), ds("feature_view/risk", "h-risk")],
            outputs=[ds("training_set/churn", "ts-1")],
        ),
        run_event(
            "training_set.fraud",
            at(5),
            run_id=RUNS["ts2"],
            inputs=[ds("feature_view/risk", "h-risk"), ds("feature_view/profile", "h-prof")],
            outputs=[
                ds(
                    "training_set/fraud",
                    "ts-2",
                    columns={
                        "a": [("feature_view/risk", "a")],
                        "p": [("feature_view/profile", "p")],
                    },
                )
            ],
        ),
        run_event(
            "training_set.spare",
            at(5),
            inputs=[ds("feature_view/unused", "h-un")],
            outputs=[ds("training_set/spare", "ts-3")],
        ),
        run_event(
            "materialize.risk",
            at(6),
            run_id=RUNS["mat"],
            inputs=[ds("feature_view/risk")],
            outputs=[ds("online/risk")],
        ),
    ]


def load(maker: sessionmaker[Session]) -> None:
    for event in pipeline():
        with session_scope(maker) as s:
            service.ingest_event(s, event)
    with session_scope(maker) as s:
        service.register_model(s, "churn", "1", "ts-1", {"auc": 0.9})
        service.register_model(s, "fraud", "1", "ts-2", {"auc": 0.8})
        service.register_model(s, "secret", "1", "ts-1", {}, namespace="finance")


def finance_training_set() -> dict[str, Any]:
    """A finance job's training set, reading the skewless view ``risk`` at ``h-risk``."""
    return run_event(
        "training_set.fin",
        at(7),
        run_id=RUNS["fin"],
        namespace="finance",
        inputs=[ds("feature_view/risk", "h-risk")],
        outputs=[ds("training_set/fin", "ts-f", namespace="finance")],
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestUsage:
    def test_models_consuming_a_view_and_fields_none_uses(self, maker) -> None:
        load(maker)
        with session_scope(maker) as s:
            risk = service.usage(s, "risk")
            profile = service.usage(s, "profile")
            unused = service.usage(s, "unused")
        assert [
            (m["name"], m["version"], m["trainingSetVersion"]) for m in risk["modelVersions"]
        ] == [
            ("churn", "1", "ts-1"),
            ("fraud", "1", "ts-2"),
            ("secret", "1", "ts-1"),
        ]
        assert risk["fields"] == ["a", "b", "c"]
        assert risk["unusedFields"] == []  # ts-1 reads the whole view
        fraud = next(m for m in risk["modelVersions"] if m["name"] == "fraud")
        assert fraud["usedFields"] == ["a"]
        assert fraud["viewVersions"] == ["h-risk"]
        assert profile["unusedFields"] == ["q"]  # from ts-2's column lineage
        assert unused["modelVersions"] == []
        assert unused["unusedFields"] == ["x", "y"]
        assert unused["trainingSets"] == [
            {"namespace": NS, "name": "training_set/spare", "version": "ts-3"}
        ]

    def test_hidden_models_and_training_sets_are_redacted_and_errors_are_typed(self, maker) -> None:
        load(maker)
        with session_scope(maker) as s:
            service.ingest_event(s, finance_training_set())
        from lineage.access import Principal

        consumer = Principal("c", "consumer", frozenset({NS}))
        outsider = Principal("o", "consumer", frozenset({"finance"}))
        with session_scope(maker) as s:
            found = service.usage(s, "risk", principal=consumer)
            everything = service.usage(s, "risk")
            assert "finance" not in json.dumps(found)
            assert {m.get("type") for m in found["modelVersions"]} == {None, "REDACTED"}
            assert [t.get("type") for t in found["trainingSets"]] == ["REDACTED", None, None]
            assert set(found["trainingSets"][0]) == {"id", "type"}
            assert everything["trainingSets"][0] == {
                "namespace": "finance",
                "name": "training_set/fin",
                "version": "ts-f",
            }
            with pytest.raises(NotVisible):  # answered as a missing view: no existence oracle
                service.usage(s, "risk", principal=outsider)
            with pytest.raises(NotFound):
                service.usage(s, "nope")
            with pytest.raises(InvalidQuery):
                service.usage(s, "../etc")


class TestReadsAndHistory:
    def test_reads_lists_runs_and_audited_feature_reads(self, maker, db_url) -> None:
        load(maker)
        auditor = ReadAuditor(db_url, key=None)
        auditor.record("p-consumer", "read", "feature_view/risk", True, "127.0.0.1")
        auditor.record("p-other", "read", "feature_view/risk", False, None)
        auditor.record("p-consumer", "read", "feature_view/profile", True, "127.0.0.1")
        auditor.close()
        with session_scope(maker) as s:
            found = service.reads(s, "risk")
            paged = service.reads(s, "risk", limit=1, offset=1)
        assert [r["job"]["name"] for r in found["runs"]] == [
            "materialize.risk",
            "training_set.fraud",
            "training_set.churn",
        ]
        assert found["runsTotal"] == 3
        assert [(a["principal"], a["allowed"], a["source_address"]) for a in found["accesses"]] == [
            ("p-other", False, "unknown"),
            ("p-consumer", True, "127.0.0.1"),
        ]
        assert [r["job"]["name"] for r in paged["runs"]] == ["training_set.fraud"]
        with session_scope(maker) as s, pytest.raises(NotFound):  # not skewless's risk
            service.reads(s, "risk", namespace="finance")

    def test_history_of_each_node_kind_newest_first(self, maker) -> None:
        load(maker)
        newer = run_event(
            "ingest.txn", at(9), outputs=[ds("offline/txn", "off-v2", ("a", "b", "c"))]
        )
        with session_scope(maker) as s:
            service.ingest_event(s, newer)
        with session_scope(maker) as s:
            versions = service.history(s, f"dataset:{NS}:offline/txn")
            page = service.history(s, f"dataset:{NS}:offline/txn", limit=1, offset=1)
            runs = service.history(s, f"job:{NS}:ingest.txn")
            events = service.history(s, f"run:{RUNS['ingest']}")
            touching = service.history(s, f"datasetVersion:{NS}:feature_view/risk#h-risk")
            models = service.history(s, "model:churn:1")
            with pytest.raises(InvalidQuery):
                service.history(s, "model:churn:1", limit=501)
        assert [v["version"] for v in versions["items"]] == ["off-v2", "off-v1"]
        assert (page["total"], [v["version"] for v in page["items"]]) == (2, ["off-v1"])
        assert (runs["type"], runs["total"]) == ("JOB", 2)
        assert runs["items"][1]["runId"] == RUNS["ingest"]
        assert [e["eventType"] for e in events["items"]] == ["COMPLETE", "START"]
        assert touching["total"] == 4  # apply, both training sets, materialize (inferred)
        assert [m["version"] for m in models["items"]] == ["1"]

    def test_history_of_a_version_redacts_events_of_hidden_namespaces(self, maker) -> None:
        load(maker)
        with session_scope(maker) as s:
            service.ingest_event(s, finance_training_set())
        from lineage.access import Principal

        consumer = Principal("c", "consumer", frozenset({NS}))
        node = f"datasetVersion:{NS}:feature_view/risk#h-risk"
        with session_scope(maker) as s:
            seen = service.history(s, node, principal=consumer)
            everything = service.history(s, node)
        assert seen["total"] == everything["total"] == 5
        hidden = [i for i in seen["items"] if i.get("type") == "REDACTED"]
        assert [i["id"] for i in hidden] == ["redacted:1"]  # the finance run's one event
        assert set(hidden[0]) == {"id", "type"}
        assert "finance" not in json.dumps(seen)
        assert RUNS["fin"] not in json.dumps(seen)
        assert RUNS["fin"] in {i["runId"] for i in everything["items"]}
        newest = everything["items"][0]  # the finance run's event is the newest
        assert (newest["runId"], seen["items"][0]["type"]) == (RUNS["fin"], "REDACTED")


class TestGraphAsOf:
    def test_only_events_up_to_as_of_contribute(self, maker) -> None:
        load(maker)
        node = f"dataset:{NS}:offline/txn"
        with session_scope(maker) as s:
            now = {n["id"] for n in service.lineage_graph(s, node, 10, None)["graph"]}
            early = service.lineage_graph(s, node, 10, None, as_of=at(3))
            before_ts = {n["id"] for n in early["graph"]}
            mid_run = service.lineage_graph(s, f"run:{RUNS['ingest']}", 0, None, as_of=at(1))
            with pytest.raises(NotFound):
                service.lineage_graph(
                    s, "dataset:skewless:training_set/churn", 1, None, as_of=at(3)
                )
            naive = service.lineage_graph(s, node, 10, None, as_of=at(3).replace(tzinfo=None))
        assert "job:skewless:training_set.churn" in now
        assert "job:skewless:apply.risk" in before_ts
        assert "job:skewless:training_set.churn" not in before_ts
        assert not any(i.startswith("model:") for i in before_ts)
        assert {n["id"] for n in naive["graph"]} == before_ts
        run = mid_run["graph"][0]["data"]
        assert (run["state"], run["endedAt"]) == ("START", None)


class TestReadAuditor:
    def test_thousand_entries_in_one_flush_verify_and_tamper_is_named(
        self, maker, db_url, monkeypatch
    ) -> None:
        auditor = ReadAuditor(db_url, key=None)
        for i in range(1000):
            auditor.record(f"p-{i % 7}", "read", "feature_view/risk", i % 10 != 0, "10.0.0.1")
        assert auditor.pending == 1000
        assert auditor.flush() == 1000
        assert (auditor.pending, auditor.flush()) == (0, 0)
        auditor.close()
        with session_scope(maker) as s:
            assert s.scalar(select(func.count()).select_from(AuditLog)) == 1000
            assert verify_chain(s, key=None) is None
        monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
        assert CliRunner().invoke(cli_app, ["audit", "verify"]).exit_code == 0
        with session_scope(maker) as s:
            s.execute(update(AuditLog).where(AuditLog.id == 617).values(principal="mallory"))
        result = CliRunner().invoke(cli_app, ["audit", "verify"])
        assert result.exit_code == 1
        assert "entry 617" in result.output

    def test_interleaves_with_api_audit_entries(self, client, make_token, maker, db_url) -> None:
        token = make_token("root", "admin", "*")
        auditor = ReadAuditor(db_url, key=None)
        auditor.record("p", "read", "feature_view/risk", True, "127.0.0.1")
        client.get("/api/v1/tokens", headers=bearer(token))
        auditor.record("p", "read", "feature_view/risk\x00", True, "127.0.0.1")
        auditor.flush()
        client.get("/api/v1/tokens", headers=bearer(token))
        auditor.close()
        with session_scope(maker) as s:
            assert s.scalar(select(func.count()).select_from(AuditLog)) == 4
            assert verify_chain(s, key=None) is None

    def test_failed_flush_keeps_entries(self, tmp_path) -> None:
        auditor = ReadAuditor("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", key=None)
        auditor.record("p", "read", "feature_view/risk", True, None)
        assert auditor.flush() == 0
        assert auditor.pending == 1
        auditor.close()


def test_read_auditor_migrates_a_new_sqlite_database(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'lineage.db'}"
    auditor = ReadAuditor(url, key=None)
    auditor.record("p", "read", "feature_view/risk", True, "127.0.0.1")
    assert auditor.flush() == 1
    auditor.close()
    _assert_one_verified_entry(url)


@pytest.mark.integration
def test_read_auditor_migrates_a_new_postgresql_database() -> None:
    name = f"lineage_test_{uuid.uuid4().hex}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        auditor = ReadAuditor(url, key=None)
        auditor.record("p", "read", "feature_view/risk", True, "127.0.0.1")
        assert auditor.flush() == 1
        auditor.close()
        _assert_one_verified_entry(url)
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _assert_one_verified_entry(url: str) -> None:
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as s:
            assert s.scalar(select(func.count()).select_from(AuditLog)) == 1
            assert verify_chain(s, key=None) is None
    finally:
        engine.dispose()


# --- HTTP and CLI ------------------------------------------------------------------------------


@pytest.fixture
def tokens(maker, make_token) -> dict[str, str]:
    load(maker)
    with session_scope(maker) as s:
        service.register_deployment(s, "churn", "1", "staging")
    return {
        "admin": make_token("root", "admin", "*"),
        "producer": make_token("ingestor", "producer", NS),
        "consumer": make_token("analyst", "consumer", NS),
        "auditor": make_token("auditor", "auditor"),
        "finance": make_token("fin", "producer", "finance"),
    }


def test_usage_over_http_is_namespace_checked_and_audited(client: TestClient, tokens) -> None:
    path = "/api/v1/usage/feature-views/risk"
    ok = client.get(path, headers=bearer(tokens["consumer"]))
    assert ok.status_code == 200, ok.text
    assert "finance" not in ok.text
    assert ok.json()["unusedFields"] == []
    hidden = client.get(path, headers=bearer(tokens["finance"]))
    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")  # as if missing
    assert client.get(path).status_code == 401
    missing = client.get("/api/v1/usage/feature-views/nope", headers=bearer(tokens["admin"]))
    assert missing.status_code == 404
    bad = client.get("/api/v1/usage/feature-views/a b", headers=bearer(tokens["admin"]))
    assert (bad.status_code, bad.json()["field"]) == (
        422,
        "view",
    )  # the detail says which names are valid
    entries = client.get(
        "/api/v1/audit", params={"principal": "fin"}, headers=bearer(tokens["auditor"])
    ).json()["entries"]
    assert entries[0]["object"] == "dataset:skewless:feature_view/risk"
    assert entries[0]["allowed"] is False


def test_reads_over_http_is_for_auditors(client: TestClient, tokens, db_url) -> None:
    auditor = ReadAuditor(db_url, key=None)
    auditor.record("p-consumer", "read", "feature_view/risk", True, "127.0.0.1")
    auditor.close()
    path = "/api/v1/reads/feature-views/risk"
    for role in ("producer", "consumer", "finance"):
        assert client.get(path, headers=bearer(tokens[role])).status_code == 403
    for role in ("auditor", "admin"):
        response = client.get(path, headers=bearer(tokens[role]))
        assert response.status_code == 200, response.text
    body = response.json()
    assert body["runsTotal"] == 3
    assert body["accesses"][0]["principal"] == "p-consumer"
    assert body["accesses"][0]["sourceAddress"] == "127.0.0.1"


def test_reads_of_a_view_nobody_knows_is_a_404_as_usage_is(
    client: TestClient, tokens, db_url
) -> None:
    """A typo answered an empty 200, read as "nobody read it"; usage answers the same 404."""
    auditor = bearer(tokens["auditor"])
    missing = client.get("/api/v1/reads/feature-views/nosuch", headers=auditor)
    assert missing.status_code == 404, missing.text
    assert missing.json()["detail"] == "feature_view not found: skewless:feature_view/nosuch"
    # A view lineage has no node for, whose reads the feature server audited, still answers.
    reads = ReadAuditor(db_url, key=None)
    reads.record("p-consumer", "read", "feature_view/unlisted", True, "127.0.0.1")
    reads.close()
    found = client.get("/api/v1/reads/feature-views/unlisted", headers=auditor)
    assert found.status_code == 200, found.text
    assert [a["principal"] for a in found.json()["accesses"]] == ["p-consumer"]


def test_graph_as_of_and_history_over_http(client: TestClient, tokens) -> None:
    admin = bearer(tokens["admin"])
    params = {"nodeId": "dataset:skewless:offline/txn", "depth": 10, "asOf": at(3).isoformat()}
    graph = client.get("/api/v1/lineage", params=params, headers=admin)
    assert graph.status_code == 200, graph.text
    assert "job:skewless:training_set.churn" not in {n["id"] for n in graph.json()["graph"]}
    bad = client.get("/api/v1/lineage", params={**params, "asOf": "yesterday"}, headers=admin)
    assert bad.status_code == 422
    history = client.get(
        "/api/v1/history",
        params={"nodeId": "job:skewless:ingest.txn", "limit": 10_000},
        headers=bearer(tokens["consumer"]),
    )
    assert history.status_code == 200, history.text
    assert history.json()["limit"] == 500  # bounded by page_size_max
    hidden = client.get(
        "/api/v1/history", params={"nodeId": "model:secret:1"}, headers=bearer(tokens["consumer"])
    )
    assert hidden.status_code == 404  # as if it did not exist


def apply_feature_service(maker, name: str, version: str, *views: str, minute: int = 8) -> None:
    """What ``skewless apply`` emits for a feature service selecting ``views``."""
    event = run_event(
        f"apply_feature_service.{name}",
        at(minute),
        inputs=[ds(f"feature_view/{v}") for v in views],
        outputs=[ds(f"feature_service/{name}", version)],
    )
    with session_scope(maker) as s:
        service.ingest_event(s, event)


def test_deployments_over_http_link_their_feature_service(
    client: TestClient, tokens, maker, make_token
) -> None:
    apply_feature_service(maker, "churn_v1", "fs-1", "risk")
    apply_feature_service(maker, "churn_v2", "fs-2", "profile")
    body = {"model": "churn", "version": "1", "featureService": "churn_v1", "environment": "prod"}
    assert client.post("/api/v1/deployments", json=body).status_code == 401
    assert (
        client.post(
            "/api/v1/deployments", json=body, headers=bearer(tokens["consumer"])
        ).status_code
        == 403
    )
    assert (
        client.post("/api/v1/deployments", json=body, headers=bearer(tokens["finance"])).status_code
        == 403
    )
    unknown = client.post(
        "/api/v1/deployments",
        json={**body, "featureService": "churn_v9"},
        headers=bearer(tokens["producer"]),
    )
    assert (unknown.status_code, unknown.json()["field"]) == (422, "featureService")
    assert "churn_v9" in unknown.json()["detail"]
    malformed = client.post(
        "/api/v1/deployments",
        json={**body, "featureService": "../x"},
        headers=bearer(tokens["producer"]),
    )
    assert (malformed.status_code, malformed.json()["field"]) == (422, "featureService")
    created = client.post("/api/v1/deployments", json=body, headers=bearer(tokens["producer"]))
    assert created.status_code == 201, created.text
    again = client.post("/api/v1/deployments", json=body, headers=bearer(tokens["admin"]))
    assert again.status_code == 201
    other = client.post(
        "/api/v1/deployments",
        json={**body, "featureService": "churn_v2"},
        headers=bearer(tokens["admin"]),
    )
    assert other.status_code == 409
    missing = client.post(
        "/api/v1/deployments", json={**body, "version": "9"}, headers=bearer(tokens["admin"])
    )
    assert missing.status_code == 404
    # The model's own namespace governs; the feature service's must be readable too.
    secret = {**body, "model": "secret"}
    both = make_token("fin-serving", "producer", "finance", NS)
    assert (
        client.post(
            "/api/v1/deployments", json=secret, headers=bearer(tokens["producer"])
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/deployments", json=secret, headers=bearer(tokens["finance"])
        ).status_code
        == 403
    )
    assert client.post("/api/v1/deployments", json=secret, headers=bearer(both)).status_code == 201
    impact = client.get(
        "/api/v1/impact",
        params={"namespace": NS, "dataset": "offline/txn", "version": "off-v1"},
        headers=bearer(tokens["admin"]),
    ).json()
    churn = next(m for m in impact["modelVersions"] if m.get("name") == "churn")
    assert churn["deployments"] == ["staging", "prod"]
    assert [(d["environment"], d["featureService"]) for d in churn["deploymentDetails"]] == [
        ("staging", None),
        ("prod", "churn_v1"),
    ]
    # off-v1 reached online/risk (materialize.risk), which both deployments on churn_v1 serve.
    assert [
        (d["model"], d["environment"], d["featureService"], d["view"])
        for d in impact["servingDeployments"]
    ] == [
        ("churn", "prod", "churn_v1", "feature_view/risk"),
        ("secret", "prod", "churn_v1", "feature_view/risk"),
    ]
    seen_by_producer = client.get(
        "/api/v1/impact",
        params={"namespace": NS, "dataset": "offline/txn", "version": "off-v1"},
        headers=bearer(tokens["producer"]),
    ).json()["servingDeployments"]
    assert [d.get("model") or d["type"] for d in seen_by_producer] == ["churn", "REDACTED"]
    # Usage of the view lists the deployments serving it; the finance model's is redacted.
    usage = client.get("/api/v1/usage/feature-views/risk", headers=bearer(tokens["consumer"]))
    assert usage.status_code == 200, usage.text
    served = usage.json()["deployments"]
    assert [(d.get("model"), d.get("environment"), d.get("featureService")) for d in served] == [
        ("churn", "prod", "churn_v1"),
        (None, None, None),
    ]
    assert served[1]["type"] == "REDACTED"
    assert "secret" not in usage.text
    profile = client.get("/api/v1/usage/feature-views/profile", headers=bearer(tokens["admin"]))
    assert profile.json()["deployments"] == []


def test_a_redefined_feature_service_moves_its_deployments_to_the_views_it_now_selects(
    maker,
) -> None:
    load(maker)
    apply_feature_service(maker, "churn_v1", "fs-1", "risk")
    with session_scope(maker) as s:
        service.register_deployment(s, "churn", "1", "prod", feature_service="churn_v1")
    apply_feature_service(maker, "churn_v1", "fs-1b", "profile", minute=9)
    with session_scope(maker) as s:
        risk = service.usage(s, "risk")["deployments"]
        profile = service.usage(s, "profile")["deployments"]
    assert risk == []
    assert [(d["model"], d["version"], d["environment"]) for d in profile] == [
        ("churn", "1", "prod")
    ]


def test_a_deployment_recorded_before_its_link_is_linked_when_repeated(maker) -> None:
    load(maker)
    with session_scope(maker) as s:
        service.register_deployment(s, "churn", "1", "prod")  # no feature service named
    apply_feature_service(maker, "churn_v1", "fs-1", "risk")
    with session_scope(maker) as s:
        assert service.usage(s, "risk")["deployments"] == []
        service.register_deployment(s, "churn", "1", "prod", feature_service="churn_v1")
    with session_scope(maker) as s:
        served = service.usage(s, "risk")["deployments"]
    assert [(d["model"], d["featureService"]) for d in served] == [("churn", "churn_v1")]


def test_cli_usage_reads_history_and_graph_as_of(maker, db_url, monkeypatch) -> None:
    load(maker)
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    runner = CliRunner()
    usage = runner.invoke(cli_app, ["usage", "profile", "--json"])
    assert usage.exit_code == 0, usage.output
    assert json.loads(usage.output)["unusedFields"] == ["q"]
    table = runner.invoke(cli_app, ["usage", "unused"])
    assert table.exit_code == 0
    assert "x, y" in table.output
    reads = runner.invoke(cli_app, ["reads", "risk", "--json"])
    assert json.loads(reads.output)["runsTotal"] == 3
    assert runner.invoke(cli_app, ["reads", "risk"]).exit_code == 0
    history = runner.invoke(cli_app, ["history", "dataset:skewless:offline/txn", "--json"])
    assert json.loads(history.output)["total"] == 1
    graph = runner.invoke(
        cli_app,
        ["graph", "dataset:skewless:offline/txn", "--depth", "9", "--as-of", at(3).isoformat()],
    )
    assert graph.exit_code == 0, graph.output
    assert "training_set.churn" not in graph.output
    missing = runner.invoke(cli_app, ["usage", "nope"])
    assert missing.exit_code == 2


def test_walks_keep_runs_with_nothing_on_the_far_side(maker) -> None:
    """Impact lists a run that read the version and wrote nothing; provenance one that wrote
    an upstream version and read nothing (the ingest)."""
    load(maker)
    check = run_event("check.txn", at(9), inputs=[ds("offline/txn", "off-v1")])
    with session_scope(maker) as s:
        service.ingest_event(s, check)
    with session_scope(maker) as s:
        impact = service.impact(s, NS, "offline/txn", "off-v1")
        found = service.provenance(s, "churn", "1")
    assert "check.txn" in {r["job"]["name"] for r in impact["runs"]}
    assert "ingest.txn" in {r["job"]["name"] for r in found["runs"]}
