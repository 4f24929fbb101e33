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
from lineage.api.schemas import GraphResponse, ImpactResponse
from lineage.audit_verify import verify_chain
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


FINANCE_RUN = "0190a1b2-0000-7000-8000-00000000f1f1"
TS = "0190a1b2-0000-7000-8000-0000000000"  # run ids of the seed below end in two digits


def run_event(
    namespace: str,
    job: str,
    run_suffix: str,
    inputs: list[tuple[str, str]] = (),  # type: ignore[assignment]
    outputs: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """A COMPLETE RunEvent reading and writing (name, version) datasets of ``namespace``."""
    facet = {"_producer": "tests", "_schemaURL": "https://x/facet.json"}

    def ds(name: str, version: str) -> dict[str, Any]:
        return {
            "namespace": namespace,
            "name": name,
            "facets": {"version": {**facet, "datasetVersion": version}},
        }

    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-20T12:00:00+00:00",
        "producer": "https://github.com/skewless/skewless/tree/main/tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": TS + run_suffix, "facets": {}},
        "job": {"namespace": namespace, "name": job, "facets": {}},
        "inputs": [ds(n, v) for n, v in inputs],
        "outputs": [ds(n, v) for n, v in outputs],
    }


@pytest.fixture
def seeded(client: TestClient, make_token, golden: Golden) -> dict[str, Any]:
    """The same small pipeline in ``skewless`` and in ``finance``, each with a feature view, a
    training set, a model and a deployment; plus a finance job feeding a skewless dataset."""
    tokens: dict[str, Any] = {
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
    admin = bearer(tokens["admin"])
    feeding = other_namespace(golden("ingest_complete"))
    feeding["run"]["runId"] = FINANCE_RUN
    feeding["outputs"][0]["namespace"] = "skewless"  # finance job feeding a skewless dataset
    feeding["outputs"][0]["facets"]["version"]["datasetVersion"] = "off-fin"
    finance_ingest = other_namespace(golden("ingest_complete"))
    finance_ingest["run"]["runId"] = TS + "10"
    off = ("offline/customer_transactions", "off-v1")
    events = [
        feeding,
        finance_ingest,
        run_event("skewless", "apply.txn_view", "11", [off], [("feature_view/txn_view", "h1")]),
        run_event("finance", "apply.fin_view", "12", [off], [("feature_view/fin_view", "h2")]),
        run_event("finance", "training_set.fin", "13", [off], [("training_set/fin", "ts-fin")]),
        # The feature services deployments name (`skewless apply` records them in skewless).
        run_event(
            "skewless",
            "apply_feature_service.fs",
            "14",
            [("feature_view/txn_view", "h1")],
            [("feature_service/fs", "fs-1")],
        ),
        run_event(
            "skewless",
            "apply_feature_service.fs2",
            "15",
            [("feature_view/txn_view", "h1")],
            [("feature_service/fs2", "fs2-1")],
        ),
    ]
    for event in events:
        assert client.post(LINEAGE, json=event, headers=admin).status_code == 201
    for model, ts, namespace in (("churn", "ts-v1", "skewless"), ("fin", "ts-fin", "finance")):
        body = {"name": model, "version": "1", "trainingSetVersion": ts, "namespace": namespace}
        body["codeVersion"] = f"{model}-commit"
        response = client.post(
            "/api/v1/models", json={**body, "metrics": {"auc": 0.9}}, headers=admin
        )
        assert response.status_code == 201, response.text
        deployment = {"model": model, "version": "1", "featureService": "fs", "environment": "dev"}
        assert client.post("/api/v1/deployments", json=deployment, headers=admin).status_code == 201
    created = client.post(
        "/api/v1/tokens",
        json={"principal": "victim", "role": "consumer", "namespaces": ["skewless"]},
        headers=admin,
    )
    assert created.status_code == 201
    listed = client.get("/api/v1/tokens", headers=admin).json()
    tokens["victim_id"] = next(t["id"] for t in listed if t["principal"] == "victim")
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

    @pytest.mark.parametrize(
        "event_time", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]
    )
    def test_event_time_outside_years_1_to_9999_utc_is_422_and_later_events_still_work(
        self, client, make_token, golden, event_time
    ) -> None:
        """An offset can push a valid-looking time past 9999-12-31 (or before 0001-01-01) in
        UTC; it is refused at intake, so later events about the same dataset still work."""
        headers = bearer(make_token("p", "producer", "skewless"))
        event = golden("ingest_complete")
        event["eventTime"] = event_time
        refused = client.post(LINEAGE, json=event, headers=headers)
        assert refused.status_code == 422, refused.text
        assert (refused.json()["code"], refused.json()["field"]) == ("invalid_event", "eventTime")
        assert "9999-12-31" in refused.json()["detail"]
        later = golden("ingest_complete")
        later["run"]["runId"] = TS + "99"
        assert client.post(LINEAGE, json=later, headers=headers).status_code == 201
        node = {"nodeId": "dataset:skewless:offline/customer_transactions"}
        graph = client.get(LINEAGE, params=node, headers=headers)
        assert graph.status_code == 200, graph.text
        history = client.get("/api/v1/history", params=node, headers=headers)
        assert history.status_code == 200, history.text
        assert history.json()["total"] == 1

    def test_dataset_event_over_http_sets_the_schema_in_its_namespace(
        self, client, make_token, golden
    ) -> None:
        producer = bearer(make_token("p", "producer", "skewless"))
        event = golden("dataset_event")
        first = client.post(LINEAGE, json=event, headers=producer)
        again = client.post(LINEAGE, json=event, headers=producer)
        assert (first.status_code, first.json()["status"]) == (201, "created")
        assert (again.status_code, again.json()["status"]) == (201, "duplicate")
        node = client.get(
            LINEAGE,
            params={"nodeId": "dataset:skewless:raw/customer_transactions"},
            headers=producer,
        ).json()["graph"][0]
        assert [f["name"] for f in node["data"]["fields"]] == ["customer_id", "amount"]
        elsewhere = copy.deepcopy(event)
        elsewhere["dataset"]["namespace"] = "finance"
        assert client.post(LINEAGE, json=elsewhere, headers=producer).status_code == 403

    def test_job_event_over_http_records_the_job_and_its_code(
        self, client, make_token, golden
    ) -> None:
        producer = bearer(make_token("p", "producer", "skewless"))
        event = golden("job_event")
        response = client.post(LINEAGE, json=event, headers=producer)
        assert (response.status_code, response.json()["runId"]) == (201, None)
        node = client.get(
            LINEAGE,
            params={"nodeId": "job:skewless:ingest.customer_transactions"},
            headers=producer,
        ).json()["graph"][0]
        assert (node["type"], node["data"]["codeVersion"]) == ("JOB", "abc123")
        elsewhere = copy.deepcopy(event)
        elsewhere["job"]["namespace"] = "finance"
        assert client.post(LINEAGE, json=elsewhere, headers=producer).status_code == 403
        consumer = bearer(make_token("c", "consumer", "skewless"))
        assert client.post(LINEAGE, json=event, headers=consumer).status_code == 403

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


# Who may do what: reads of a namespace need a grant on it (auditors read all), writes need the
# producer role and a grant, the audit log the audit right, tokens the admin role. A refused
# write or role-gated read is a 403; a read of an object outside the grants a 404.
READ_IN = {"admin", "producer", "consumer", "auditor"}
READ_OUT = {"admin", "auditor"}
WRITE_IN = {"admin", "producer"}
WRITE_OUT = {"admin"}
AUDIT = {"admin", "auditor"}
ADMIN = {"admin"}


def _impact(namespace: str) -> dict[str, Any]:
    dataset = {"dataset": "raw/customer_transactions", "version": "raw-v1"}
    return {"params": {"namespace": namespace, **dataset}}


def _deployment(model: str) -> dict[str, Any]:
    return {
        "json": {"model": model, "version": "1", "featureService": "fs2", "environment": "prod"}
    }


# endpoint -> (method, path, request kwargs, roles allowed); ``_in`` addresses an object in the
# ``skewless`` namespace (granted to producer and consumer), ``_out`` one in ``finance`` (not).
# Every route of lineage.api.routes but /health (no token) is here, by method and path.
ENDPOINTS: dict[str, tuple[str, str, dict[str, Any], set[str]]] = {
    "ingest_in": (
        "POST",
        LINEAGE,
        {"json": run_event("skewless", "matrix.job", "20", outputs=[("matrix/out", "v")])},
        WRITE_IN,
    ),
    "ingest_out": (
        "POST",
        LINEAGE,
        {"json": run_event("finance", "matrix.job", "21", outputs=[("matrix/out", "v")])},
        WRITE_OUT,
    ),
    "graph_in": (
        "GET",
        LINEAGE,
        {"params": {"nodeId": "dataset:skewless:raw/customer_transactions"}},
        READ_IN,
    ),
    "graph_out": (
        "GET",
        LINEAGE,
        {"params": {"nodeId": "job:finance:ingest.customer_transactions"}},
        READ_OUT,
    ),
    "provenance_in": ("GET", "/api/v1/provenance/models/churn/1", {}, READ_IN),
    "provenance_out": ("GET", "/api/v1/provenance/models/fin/1", {}, READ_OUT),
    "impact_in": ("GET", "/api/v1/impact", _impact("skewless"), READ_IN),
    "impact_out": ("GET", "/api/v1/impact", _impact("finance"), READ_OUT),
    "model_in": (
        "POST",
        "/api/v1/models",
        {"json": {"name": "m2", "version": "1", "trainingSetVersion": "ts-v1"}},
        WRITE_IN,
    ),
    "model_out": (
        "POST",
        "/api/v1/models",
        {
            "json": {
                "name": "m3",
                "version": "1",
                "trainingSetVersion": "ts-fin",
                "namespace": "finance",
            }
        },
        WRITE_OUT,
    ),
    "model_version_in": (
        "POST",
        "/api/v1/models",
        {"json": {"name": "churn", "version": "2", "trainingSetVersion": "ts-v1"}},
        WRITE_IN,
    ),
    "model_version_out": (
        "POST",
        "/api/v1/models",
        {"json": {"name": "fin", "version": "2", "trainingSetVersion": "ts-fin"}},
        WRITE_OUT,
    ),
    "deployment_in": ("POST", "/api/v1/deployments", _deployment("churn"), WRITE_IN),
    "deployment_out": ("POST", "/api/v1/deployments", _deployment("fin"), WRITE_OUT),
    "usage_in": ("GET", "/api/v1/usage/feature-views/txn_view", {}, READ_IN),
    "usage_out": (
        "GET",
        "/api/v1/usage/feature-views/fin_view",
        {"params": {"namespace": "finance"}},
        READ_OUT,
    ),
    "reads_in": ("GET", "/api/v1/reads/feature-views/txn_view", {}, AUDIT),
    "reads_out": (
        "GET",
        "/api/v1/reads/feature-views/fin_view",
        {"params": {"namespace": "finance"}},
        AUDIT,
    ),
    "history_in": (
        "GET",
        "/api/v1/history",
        {"params": {"nodeId": "job:skewless:ingest.customer_transactions"}},
        READ_IN,
    ),
    "history_out": (
        "GET",
        "/api/v1/history",
        {"params": {"nodeId": "job:finance:ingest.customer_transactions"}},
        READ_OUT,
    ),
    "audit": ("GET", "/api/v1/audit", {}, AUDIT),
    "tokens_list": ("GET", "/api/v1/tokens", {}, ADMIN),
    "tokens_create": (
        "POST",
        "/api/v1/tokens",
        {"json": {"principal": "x", "role": "consumer"}},
        ADMIN,
    ),
    "tokens_revoke": ("DELETE", "/api/v1/tokens/{victim_id}", {}, ADMIN),
    "grant_revoke": ("DELETE", "/api/v1/tokens/{victim_id}/grants/skewless", {}, ADMIN),
}
ROLES = ("admin", "producer", "consumer", "auditor")
OK = {"GET": 200, "POST": 201, "DELETE": 204}


def _written(client: TestClient, admin: dict[str, str], endpoint: str) -> bool:
    """Whether a write endpoint's effect is visible (to an admin) after the call."""

    def status(path: str, **kwargs: Any) -> int:
        return client.get(path, headers=admin, **kwargs).status_code

    if endpoint.startswith("ingest"):
        namespace = "skewless" if endpoint.endswith("_in") else "finance"
        return status(LINEAGE, params={"nodeId": f"job:{namespace}:matrix.job"}) == 200
    if endpoint.startswith("model"):
        name, version = {"model_in": ("m2", "1"), "model_out": ("m3", "1")}.get(
            endpoint, ("churn" if endpoint.endswith("_in") else "fin", "2")
        )
        return status(f"/api/v1/provenance/models/{name}/{version}") == 200
    if endpoint.startswith("deployment"):
        namespace = "skewless" if endpoint.endswith("_in") else "finance"
        impact = client.get("/api/v1/impact", headers=admin, **_impact(namespace)).json()
        return any("prod" in m.get("deployments", []) for m in impact["modelVersions"])
    tokens = client.get("/api/v1/tokens", headers=admin).json()
    if endpoint == "tokens_create":
        return any(t["principal"] == "x" for t in tokens)
    victim = next(t for t in tokens if t["principal"] == "victim")
    if endpoint == "grant_revoke":
        return victim["namespaces"] == []
    return victim["revokedAt"] is not None


def test_the_matrix_covers_every_route() -> None:
    from lineage.api.routes import router

    routes = {
        (method, route.path)
        for route in router.routes
        for method in getattr(route, "methods", ())
        if route.path != "/health"  # liveness needs no token
    }
    covered = {
        (method, template)
        for method, template in routes
        for m, path, _, _ in ENDPOINTS.values()
        if m == method and _matches(template, path)
    }
    assert routes == covered
    assert len(routes) == 14  # a new route must join the matrix


def _matches(template: str, path: str) -> bool:
    parts, concrete = template.split("/"), path.split("/")
    return len(parts) == len(concrete) and all(
        t == c or t.startswith("{") for t, c in zip(parts, concrete, strict=True)
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_authorization_matrix(client, seeded, role, endpoint) -> None:
    method, path, kwargs, allowed = ENDPOINTS[endpoint]
    path = path.format(victim_id=seeded["victim_id"])
    for headers in ({}, bearer("skl_not-a-token"), {"Authorization": "Basic abc"}):
        unauthenticated = client.request(method, path, headers=headers, **kwargs)
        assert unauthenticated.status_code == 401, (headers, unauthenticated.text)
    response = client.request(method, path, headers=bearer(seeded[role]), **kwargs)
    # A read of an object outside the grants is a 404, as for a missing one (no oracle).
    refused = 404 if allowed is READ_OUT else 403
    expected = OK[method] if role in allowed else refused
    assert response.status_code == expected, response.text
    if method != "GET":  # a refused write writes nothing; an allowed one is visible
        assert _written(client, bearer(seeded["admin"]), endpoint) is (role in allowed)


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


@pytest.mark.parametrize(
    ("params", "in_finance"),
    [
        ({"nodeId": "dataset:skewless:offline/customer_transactions", "depth": 3}, False),
        ({"nodeId": f"run:{FINANCE_RUN}", "depth": 4}, True),
        ({"nodeId": "model:fin:1", "depth": 2, "asOf": "2100-01-01T00:00:00Z"}, True),
    ],
)
@pytest.mark.parametrize("role", ["admin", "consumer"])
def test_a_graph_answer_is_exactly_its_published_model(
    client, seeded, params, in_finance, role
) -> None:
    """The graph is written without passing through ``GraphResponse``: it must still be one,
    field for field, redacted or not, current, version-exact or as of a time."""
    response = client.get(LINEAGE, params=params, headers=bearer(seeded[role]))
    if role == "consumer" and in_finance:  # outside the consumer's grants
        assert response.status_code == 404
        return
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert len(body["graph"]) > 1
    assert GraphResponse.model_validate(body).model_dump(mode="json") == body


@pytest.mark.parametrize("role", ["admin", "consumer"])
def test_an_impact_answer_is_exactly_its_published_model(client, seeded, role) -> None:
    """Like the graph, impact is written without its model; downstream of the raw version are
    runs, training sets and a model with its deployment, read with full and narrower grants."""
    response = client.get("/api/v1/impact", headers=bearer(seeded[role]), **_impact("skewless"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["runs"]
    assert body["trainingSets"]
    assert body["modelVersions"]
    assert ImpactResponse.model_validate(body).model_dump(mode="json") == body


# Regression (hardening #5): a node outside the caller's grants was a 403 naming its namespace
# while an unknown one was a 404, so any token could probe what exists where. Each pair below
# is (an object that exists in ``finance``, one that does not), read with the consumer token
# (granted ``skewless`` only); both must get the answer of a missing object, word for word.
FIN_RAW = "finance:raw/customer_transactions"
HIDDEN_OR_MISSING = {
    **{
        f"{route}_{kind}": (
            path,
            lambda node_id, extra=extra: {"params": {"nodeId": node_id, **extra}},
            (hidden, missing),
            "node not found: {}",
        )
        for route, path, extra in (
            ("graph", LINEAGE, {}),
            # asOf before anything happened: a visible node then is "not found ... as of";
            # a hidden one must still read exactly like an unknown id.
            ("graph_as_of", LINEAGE, {"asOf": "2000-01-01T00:00:00+00:00"}),
            ("history", "/api/v1/history", {}),
        )
        for kind, hidden, missing in (
            ("job", "job:finance:ingest.customer_transactions", "job:finance:nope"),
            ("dataset", f"dataset:{FIN_RAW}", "dataset:finance:nope"),
            ("version", f"datasetVersion:{FIN_RAW}#raw-v1", f"datasetVersion:{FIN_RAW}#nope"),
            ("run", f"run:{FINANCE_RUN}", "run:0190a1b2-0000-7000-8000-00000000dead"),
            ("model", "model:fin:1", "model:fin:9"),
        )
    },
    "provenance": (
        "/api/v1/provenance/models/fin/{}",
        lambda version: {},
        ("1", "9"),
        "model_version not found: fin:{}",
    ),
    "impact": (
        "/api/v1/impact",
        lambda version: {"params": {**_impact("finance")["params"], "version": version}},
        ("raw-v1", "nope"),
        f"dataset_version not found: {FIN_RAW}#{{}}",
    ),
    "usage": (
        "/api/v1/usage/feature-views/{}",
        lambda view: {"params": {"namespace": "finance"}},
        ("fin_view", "nope_view"),
        "feature_view not found: finance:feature_view/{}",
    ),
}


@pytest.mark.parametrize("case", sorted(HIDDEN_OR_MISSING))
def test_a_node_outside_the_grants_reads_exactly_like_a_missing_one(client, seeded, case) -> None:
    path, kwargs, (hidden, missing), detail = HIDDEN_OR_MISSING[case]
    consumer = bearer(seeded["consumer"])
    for key in (hidden, missing):
        url = path.format(key) if "{}" in path else path
        response = client.get(url, headers=consumer, **kwargs(key))
        assert response.status_code == 404, (key, response.text)
        assert response.json() == {"code": "not_found", "detail": detail.format(key)}
    # It does exist: an admin reads it.
    url = path.format(hidden) if "{}" in path else path
    as_of = kwargs(hidden).get("params", {}).get("asOf")
    expected = 404 if as_of else 200  # nothing existed in 2000, for anybody
    assert client.get(url, headers=bearer(seeded["admin"]), **kwargs(hidden)).status_code == (
        expected
    )


def test_provenance_names_the_code_a_model_was_registered_from(client, seeded) -> None:
    found = client.get("/api/v1/provenance/models/churn/1", headers=bearer(seeded["auditor"]))
    assert found.status_code == 200, found.text
    assert found.json()["codeVersion"] == "churn-commit"
    empty = {"name": "m9", "version": "1", "trainingSetVersion": "ts-v1", "codeVersion": ""}
    posted = client.post("/api/v1/models", json=empty, headers=bearer(seeded["admin"]))
    assert posted.status_code == 422


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
        assert verify_chain(s, key=None) is None
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


HIDDEN_READS = {
    "namespace": ("/api/v1/namespaces/finance", {}),
    "dataset": ("/api/v1/namespaces/finance/datasets/raw%2Fcustomer_transactions", {}),
    "job": ("/api/v1/namespaces/finance/jobs/ingest.customer_transactions", {}),
    "run": (f"/api/v1/jobs/runs/{FINANCE_RUN}", {}),
    "column-lineage": ("/api/v1/column-lineage", {"nodeId": f"dataset:{FIN_RAW}"}),
    "catalog": ("/api/v1/catalog", {"namespace": "finance"}),
    "impact-missing": ("/api/v1/impact", {**_impact("finance")["params"], "version": "nope"}),
}


@pytest.mark.parametrize("case", sorted(HIDDEN_READS))
def test_a_read_outside_the_grants_is_audited_as_denied_on_every_route(
    client, seeded, case
) -> None:
    """The Marquez routes, column lineage and the catalog answered 404 but audited the read as
    allowed; so did impact for a version that does not exist in a hidden namespace."""
    path, params = HIDDEN_READS[case]
    response = client.get(path, params=params, headers=bearer(seeded["consumer"]))
    assert response.status_code == 404, response.text
    entries = client.get(
        "/api/v1/audit", params={"principal": "analyst"}, headers=bearer(seeded["auditor"])
    ).json()["entries"]
    newest = entries[0]  # this request's entry
    assert newest["action"].startswith("GET /api/v1/"), newest
    assert newest["allowed"] is False, newest
