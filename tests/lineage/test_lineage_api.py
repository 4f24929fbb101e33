"""The lineage HTTP API through FastAPI's TestClient, on both backends."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from lineage.api import create_app
from lineage.audit import verify_chain
from lineage.cli import app as cli_app
from lineage.db.models import AuditLog
from lineage.db.session import session_scope
from lineage.settings import LineageSettings

Golden = Callable[[str], dict[str, Any]]
LINEAGE = "/api/v1/lineage"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def other_namespace(event: dict[str, Any]) -> dict[str, Any]:
    moved = copy.deepcopy(event)
    moved["job"]["namespace"] = "finance"
    for ds in (*moved.get("inputs", []), *moved.get("outputs", [])):
        ds["namespace"] = "finance"
    return moved


@pytest.fixture
def seeded(client: TestClient, make_token, golden: Golden) -> dict[str, str]:
    tokens = {
        "admin": make_token("root", "admin", "*"),
        "producer": make_token("ingestor", "producer", "skewless"),
        "consumer": make_token("analyst", "consumer", "skewless"),
        "auditor": make_token("auditor", "auditor"),
        "finance": make_token("fin", "producer", "finance"),
    }
    for name in ("ingest_start", "ingest_complete", "training_complete"):
        assert (
            client.post(LINEAGE, json=golden(name), headers=bearer(tokens["producer"])).status_code
            == 201
        )
    finance = other_namespace(golden("ingest_complete"))
    finance["run"]["runId"] = "0190a1b2-0000-7000-8000-00000000f1f1"
    finance["outputs"][0]["namespace"] = "skewless"  # finance job feeding a skewless dataset
    finance["outputs"][0]["facets"]["version"]["datasetVersion"] = "off-fin"
    admin = bearer(tokens["admin"])
    assert client.post(LINEAGE, json=finance, headers=admin).status_code == 201
    model = {
        "name": "churn",
        "version": "1",
        "trainingSetVersion": "ts-v1",
        "metrics": {"auc": 0.9},
    }
    assert client.post("/api/v1/models", json=model, headers=admin).status_code == 201
    return tokens


class TestIntake:
    def test_created_then_duplicate_is_201_no_op(self, client, make_token, golden) -> None:
        headers = bearer(make_token("p", "producer", "skewless"))
        first = client.post(LINEAGE, json=golden("ingest_complete"), headers=headers)
        again = client.post(LINEAGE, json=golden("ingest_complete"), headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)
        assert (first.json()["status"], again.json()["status"]) == ("created", "duplicate")

    def test_invalid_event_is_422_naming_the_field(self, client, make_token, golden) -> None:
        event = golden("ingest_complete")
        event["run"]["runId"] = "not-a-uuid"
        response = client.post(
            LINEAGE, json=event, headers=bearer(make_token("p", "producer", "*"))
        )
        assert response.status_code == 422
        assert response.json()["field"] == "run.runId"

    def test_non_object_body_is_422(self, client, make_token) -> None:
        response = client.post(LINEAGE, json=[1], headers=bearer(make_token("p", "producer", "*")))
        assert response.status_code == 422

    def test_body_over_the_cap_is_413(self, client, make_token, golden) -> None:
        event = golden("ingest_complete")
        event["run"]["facets"]["blob"] = {"x": "a" * 70_000}
        response = client.post(
            LINEAGE, json=event, headers=bearer(make_token("p", "producer", "*"))
        )
        assert response.status_code == 413

    def test_streamed_body_over_the_cap_is_413(self, client, make_token) -> None:
        chunks = (b"x" * 8192 for _ in range(16))
        headers = {**bearer(make_token("p", "producer", "*")), "Content-Type": "application/json"}
        response = client.post(LINEAGE, content=chunks, headers=headers)
        assert response.status_code == 413

    def test_value_the_database_refuses_fails_alone_and_is_audited(
        self, client, make_token, golden, db_url
    ) -> None:
        headers = bearer(make_token("p", "producer", "*"))
        event = golden("ingest_complete")
        event["job"]["name"] = "ingest\x00customers"
        response = client.post(LINEAGE, json=event, headers=headers)
        if db_url.startswith("postgresql"):  # PostgreSQL text cannot hold NUL
            assert response.status_code == 422
            assert response.json()["code"] == "invalid_request"
        else:  # SQLite text can
            assert response.status_code == 201
        assert client.post(LINEAGE, json=golden("ingest_start"), headers=headers).status_code == 201
        auditor = bearer(make_token("aud", "auditor"))
        entries = client.get("/api/v1/audit", params={"principal": "p"}, headers=auditor).json()
        assert [e["action"] for e in entries["entries"]] == ["POST /api/v1/lineage"] * 2
        assert all(e["allowed"] for e in entries["entries"])

    @pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
    def test_missing_or_bad_token_is_401(self, client, golden, header) -> None:
        headers = {"Authorization": header} if header else {}
        response = client.post(LINEAGE, json=golden("ingest_complete"), headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"

    def test_write_outside_grant_is_403_and_writes_nothing(
        self, client, make_token, golden
    ) -> None:
        headers = bearer(make_token("p", "producer", "skewless"))
        response = client.post(
            LINEAGE, json=other_namespace(golden("ingest_complete")), headers=headers
        )
        assert response.status_code == 403
        admin = bearer(make_token("a", "admin", "*"))
        graph = client.get(
            LINEAGE, params={"nodeId": "job:finance:ingest.customer_transactions"}, headers=admin
        )
        assert graph.status_code == 404

    def test_revoked_token_is_401(self, client, make_token, golden) -> None:
        admin = bearer(make_token("root", "admin", "*"))
        created = client.post(
            "/api/v1/tokens",
            json={"principal": "p", "role": "producer", "namespaces": ["skewless"]},
            headers=admin,
        )
        assert created.status_code == 201
        token = created.json()["token"]
        listed = client.get("/api/v1/tokens", headers=admin).json()
        assert all("token" not in t for t in listed)
        token_id = next(t["id"] for t in listed if t["principal"] == "p")
        assert client.delete(f"/api/v1/tokens/{token_id}", headers=admin).status_code == 204
        response = client.post(LINEAGE, json=golden("ingest_complete"), headers=bearer(token))
        assert response.status_code == 401


# endpoint -> (method, path, params/body, namespace of the object)
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "graph_in": (
        "GET",
        LINEAGE,
        {"params": {"nodeId": "dataset:skewless:raw/customer_transactions"}},
    ),
    "graph_out": (
        "GET",
        LINEAGE,
        {"params": {"nodeId": "job:finance:ingest.customer_transactions"}},
    ),
    "provenance": ("GET", "/api/v1/provenance/models/churn/1", {}),
    "impact_in": (
        "GET",
        "/api/v1/impact",
        {
            "params": {
                "namespace": "skewless",
                "dataset": "raw/customer_transactions",
                "version": "raw-v1",
            }
        },
    ),
    "impact_out": (
        "GET",
        "/api/v1/impact",
        {
            "params": {
                "namespace": "finance",
                "dataset": "raw/customer_transactions",
                "version": "raw-v1",
            }
        },
    ),
    "model_in": (
        "POST",
        "/api/v1/models",
        {"json": {"name": "m2", "version": "1", "trainingSetVersion": "ts-v1"}},
    ),
    "model_out": (
        "POST",
        "/api/v1/models",
        {
            "json": {
                "name": "m3",
                "version": "1",
                "trainingSetVersion": "ts-v1",
                "namespace": "finance",
            }
        },
    ),
    "audit": ("GET", "/api/v1/audit", {}),
    "tokens_list": ("GET", "/api/v1/tokens", {}),
    "tokens_create": ("POST", "/api/v1/tokens", {"json": {"principal": "x", "role": "consumer"}}),
}
ALLOWED: dict[str, set[str]] = {
    "admin": set(ENDPOINTS),
    "producer": {"graph_in", "provenance", "impact_in", "model_in"},
    "consumer": {"graph_in", "provenance", "impact_in"},
    "auditor": {"graph_in", "graph_out", "provenance", "impact_in", "impact_out", "audit"},
}
OK = {"GET": 200, "POST": 201}


@pytest.mark.parametrize("role", sorted(ALLOWED))
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_authorization_matrix(client, seeded, role, endpoint) -> None:
    method, path, kwargs = ENDPOINTS[endpoint]
    response = client.request(method, path, headers=bearer(seeded[role]), **kwargs)
    expected = OK[method] if endpoint in ALLOWED[role] else 403
    assert response.status_code == expected, response.text
    unauthenticated = client.request(method, path, **kwargs)
    assert unauthenticated.status_code == 401


def test_traversal_redacts_nodes_outside_grants(client, seeded) -> None:
    params = {"nodeId": "dataset:skewless:offline/customer_transactions", "depth": 3}
    graph = client.get(LINEAGE, params=params, headers=bearer(seeded["consumer"])).json()["graph"]
    redacted = [n for n in graph if n["type"] == "REDACTED"]
    assert redacted
    assert all(n["id"].startswith("redacted:") and n["data"] is None for n in redacted)
    assert "finance" not in str(graph)
    full = client.get(LINEAGE, params=params, headers=bearer(seeded["admin"])).json()["graph"]
    assert "job:finance:ingest.customer_transactions" in {n["id"] for n in full}
    assert len(full) == len(graph)


def test_depth_over_the_cap_is_422(client, seeded) -> None:
    params = {"nodeId": "dataset:skewless:raw/customer_transactions", "depth": 11}
    response = client.get(LINEAGE, params=params, headers=bearer(seeded["admin"]))
    assert response.status_code == 422
    assert response.json()["field"] == "depth"


def test_every_request_is_audited_and_queryable(client, seeded) -> None:
    client.get(
        LINEAGE,
        params={"nodeId": "job:finance:ingest.customer_transactions"},
        headers=bearer(seeded["consumer"]),
    )
    client.get(LINEAGE, params={"nodeId": "x:y"})
    entries = client.get(
        "/api/v1/audit", params={"principal": "analyst"}, headers=bearer(seeded["auditor"])
    ).json()["entries"]
    denied = [e for e in entries if not e["allowed"]]
    assert denied[0]["object"] == "job:finance:ingest.customer_transactions"
    assert denied[0]["action"] == "GET /api/v1/lineage"
    assert denied[0]["sourceAddress"] == "testclient"
    anonymous = client.get(
        "/api/v1/audit", params={"principal": "anonymous"}, headers=bearer(seeded["auditor"])
    ).json()
    assert anonymous["entries"][0]["allowed"] is False


def test_audit_tamper_is_named_by_verify(
    client, seeded, maker: sessionmaker[Session], db_url, monkeypatch
) -> None:
    with session_scope(maker) as s:
        assert verify_chain(s) is None
        target = s.scalars(select(AuditLog.id).order_by(AuditLog.id).offset(2).limit(1)).one()
        s.execute(
            update(AuditLog).where(AuditLog.id == target).values(allowed=False, principal="mallory")
        )
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    result = CliRunner().invoke(cli_app, ["audit", "verify"])
    assert result.exit_code == 1
    assert f"entry {target}" in result.output


def test_audit_verify_passes_on_an_intact_chain(client, seeded, db_url, monkeypatch) -> None:
    monkeypatch.setenv("LINEAGE_DATABASE_URL", db_url)
    result = CliRunner().invoke(cli_app, ["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_unknown_error_is_a_generic_500_with_request_id(settings: LineageSettings) -> None:
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    with TestClient(app) as c:
        response = c.get("/boom")
    assert response.status_code == 500
    assert "secret" not in response.text
    assert response.json()["requestId"]


def test_health(client) -> None:
    assert client.get("/health").json() == {"status": "ok", "database": True}


def test_bootstrap_admin_token(db_url: str) -> None:
    token = "b" * 40
    settings = LineageSettings(database_url=db_url, bootstrap_admin_token=token)
    with TestClient(create_app(settings)) as c:
        assert c.get("/api/v1/tokens", headers=bearer(token)).status_code == 200


def test_production_profile_refuses_unsafe_settings() -> None:
    with pytest.raises(ValueError, match="BOOTSTRAP_ADMIN_TOKEN"):
        LineageSettings(profile="production", database_url="postgresql://x/y")
