"""The Marquez-compatible read API, read by Marquez's own Python client (marquez-python 0.50)
from a real lineage service on a loopback port over PostgreSQL, fed by the real intake.

marquez-python keeps its headers in one module-level dict and ``api_key`` writes the bearer
token into it, so the last client built decides every client's token: each test builds its
client right before it calls it.
"""

from __future__ import annotations

import copy
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from marquez_client import MarquezClient
from marquez_client.errors import APIError

from lineage.api import create_app
from lineage.settings import LineageSettings
from tests.waiting import wait_for

# The served tests run on PostgreSQL (the production database); the TestClient one on both.
on_postgresql = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.integration)], indirect=True
)

Golden = Callable[[str], dict[str, Any]]
NS = "skewless"
FINANCE = "finance"
URI_NS = "postgres://db.example:5432"  # a namespace with ':' and '/', as producers name them
INGEST_RUN = "0190a1b2-0000-7000-8000-000000000001"
TRAINING_RUN = "0190a1b2-0000-7000-8000-000000000002"
FINANCE_RUN = "0190a1b2-0000-7000-8000-00000000f1f1"
URI_RUN = "0190a1b2-0000-7000-8000-00000000e1e1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def service(settings: LineageSettings) -> Iterator[str]:
    """The lineage service as ``lineage serve`` runs it, in a uvicorn thread on a free port."""
    served = settings.model_copy(update={"intake_writer": "process"})
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(served), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def ready() -> bool:
        if not thread.is_alive():
            raise RuntimeError("lineage service failed to start")
        return server.started

    wait_for(ready, "the lineage service to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


def _moved(event: dict[str, Any], namespace: str, run_id: str) -> dict[str, Any]:
    moved = copy.deepcopy(event)
    moved["run"]["runId"] = run_id
    moved["job"]["namespace"] = namespace
    for ds in (*moved.get("inputs", []), *moved.get("outputs", [])):
        ds["namespace"] = namespace
        for item in ds["facets"].get("columnLineage", {}).get("fields", {}).values():
            for source in item["inputFields"]:
                source["namespace"] = namespace
    return moved


@pytest.fixture
def tokens(service: str, make_token, golden: Golden) -> dict[str, str]:
    """Golden events posted through the real intake, in three namespaces; the callers' tokens."""
    issued = {
        "producer": make_token("ingestor", "producer", NS, FINANCE, URI_NS),
        "auditor": make_token("auditor", "auditor"),
        "consumer": make_token("analyst", "consumer", NS),
    }
    events = [golden("ingest_start"), golden("ingest_complete"), golden("training_complete")]
    events.append(_moved(golden("ingest_complete"), FINANCE, FINANCE_RUN))
    events.append(_moved(golden("ingest_complete"), URI_NS, URI_RUN))
    headers = {"Authorization": f"Bearer {issued['producer']}"}
    with httpx.Client(base_url=service, headers=headers, timeout=30) as http:
        for event in events:
            assert http.post("/api/v1/lineage", json=event).status_code == 201
    return issued


@on_postgresql
def test_marquez_client_reads_the_graph_as_an_auditor(service, tokens) -> None:
    client = MarquezClient(url=service, api_key=tokens["auditor"])
    namespaces = client.list_namespaces()["namespaces"]
    assert [n["name"] for n in namespaces] == sorted([FINANCE, URI_NS, NS])
    assert {n["ownerName"] for n in namespaces} == {"anonymous"}

    datasets = client.list_datasets(NS)
    assert datasets["totalCount"] == 3
    assert [d["name"] for d in datasets["datasets"]] == [
        "offline/customer_transactions",
        "raw/customer_transactions",
        "training_set/churn",
    ]
    page = client.list_datasets(NS, limit=1, offset=1)
    assert [d["name"] for d in page["datasets"]] == ["raw/customer_transactions"]
    assert page["totalCount"] == 3

    offline = client.get_dataset(NS, "offline/customer_transactions")
    assert offline["id"] == {"namespace": NS, "name": "offline/customer_transactions"}
    assert [(f["name"], f["type"]) for f in offline["fields"]] == [
        ("customer_id", "int64"),
        ("amount", "float64"),
    ]
    assert offline["currentVersion"] == "off-v1"
    assert {"schema", "version", "columnLineage"} <= set(offline["facets"])

    versions = client.list_dataset_versions(NS, "offline/customer_transactions")
    assert versions["totalCount"] == 1
    (version,) = versions["versions"]
    assert version["version"] == "off-v1"
    assert version["createdByRun"]["id"] == INGEST_RUN
    assert version["createdByRun"]["state"] == "COMPLETED"

    jobs = client.list_jobs(NS)
    assert [j["name"] for j in jobs["jobs"]] == [
        "ingest.customer_transactions",
        "training_set.churn",
    ]
    assert jobs["totalCount"] == 2
    job = client.get_job(NS, "ingest.customer_transactions")
    assert job["inputs"] == [{"namespace": NS, "name": "raw/customer_transactions"}]
    assert job["outputs"] == [{"namespace": NS, "name": "offline/customer_transactions"}]
    assert job["location"] == "https://github.com/skewless/skewless"
    assert job["latestRun"]["id"] == INGEST_RUN

    runs = client.list_job_runs(NS, "ingest.customer_transactions")
    assert runs["totalCount"] == 1
    run = client.get_job_run(INGEST_RUN)
    assert runs["runs"] == [run]
    assert run["state"] == "COMPLETED"
    assert run["startedAt"] is not None
    assert run["endedAt"] is not None
    assert run["durationMs"] == 60_000  # START 10:00, COMPLETE 10:01
    assert run["jobVersion"] == {
        "namespace": NS,
        "name": "ingest.customer_transactions",
        "version": "abc123",
    }
    assert [v["datasetVersionId"]["version"] for v in run["inputDatasetVersions"]] == ["raw-v1"]
    assert [v["datasetVersionId"]["version"] for v in run["outputDatasetVersions"]] == ["off-v1"]

    lineage = client.get_column_lineage_by_dataset(NS, "offline/customer_transactions")
    nodes = {n["id"]: n for n in lineage["graph"]}
    amount = nodes[f"datasetField:{NS}:offline/customer_transactions:amount"]
    assert amount["type"] == "DATASET_FIELD"
    assert [(i["dataset"], i["field"]) for i in amount["data"]["inputFields"]] == [
        ("raw/customer_transactions", "amount")
    ]
    assert f"datasetField:{NS}:raw/customer_transactions:amount" in nodes
    assert f"datasetField:{NS}:offline/customer_transactions:customer_id" in nodes


@on_postgresql
def test_names_with_slashes_and_colons_are_read_url_encoded(service, tokens) -> None:
    client = MarquezClient(url=service, api_key=tokens["auditor"])
    assert client.get_namespace(URI_NS)["name"] == URI_NS
    dataset = client.get_dataset(URI_NS, "offline/customer_transactions")
    assert dataset["namespace"] == URI_NS
    assert client.list_dataset_versions(URI_NS, "offline/customer_transactions")["totalCount"] == 1
    assert client.get_job(URI_NS, "ingest.customer_transactions")["namespace"] == URI_NS
    runs = client.list_job_runs(URI_NS, "ingest.customer_transactions")["runs"]
    assert [r["id"] for r in runs] == [URI_RUN]
    lineage = client.get_column_lineage_by_dataset_field(
        URI_NS, "offline/customer_transactions", "amount"
    )
    assert f"datasetField:{URI_NS}:raw/customer_transactions:amount" in {
        n["id"] for n in lineage["graph"]
    }


@on_postgresql
def test_a_consumer_sees_only_its_namespace(service, tokens) -> None:
    client = MarquezClient(url=service, api_key=tokens["consumer"])
    assert [n["name"] for n in client.list_namespaces()["namespaces"]] == [NS]
    assert client.list_datasets(NS)["totalCount"] == 3
    hidden_calls = [
        lambda: client.get_namespace(FINANCE),
        lambda: client.list_datasets(FINANCE),
        lambda: client.get_dataset(FINANCE, "offline/customer_transactions"),
        lambda: client.list_dataset_versions(FINANCE, "offline/customer_transactions"),
        lambda: client.list_jobs(FINANCE),
        lambda: client.get_job(FINANCE, "ingest.customer_transactions"),
        lambda: client.list_job_runs(FINANCE, "ingest.customer_transactions"),
        lambda: client.get_job_run(FINANCE_RUN),
        lambda: client.get_column_lineage_by_dataset(FINANCE, "offline/customer_transactions"),
    ]
    for call in hidden_calls:
        with pytest.raises(APIError) as raised:
            call()
        assert raised.value.__cause__.response.status_code == 404
    with httpx.Client(base_url=service, timeout=30) as http:
        headers = {"Authorization": f"Bearer {tokens['consumer']}"}
        hidden = http.get(
            "/api/v1/namespaces/finance/datasets/offline%2Fcustomer_transactions", headers=headers
        )
        missing = http.get("/api/v1/namespaces/finance/datasets/nothing", headers=headers)
        assert hidden.status_code == missing.status_code == 404
        events = http.get("/api/v1/events/lineage", headers=headers).json()
        found = http.get("/api/v1/search", params={"q": "customer"}, headers=headers).json()
    assert events["totalCount"] == 3
    assert {e["job"]["namespace"] for e in events["events"]} == {NS}
    assert {r["namespace"] for r in found["results"]} == {NS}


@on_postgresql
def test_events_are_paged_by_time_and_search_matches_names(service, tokens) -> None:
    headers = {"Authorization": f"Bearer {tokens['auditor']}"}
    with httpx.Client(base_url=service, headers=headers, timeout=30) as http:
        every = http.get("/api/v1/events/lineage").json()
        page = http.get("/api/v1/events/lineage", params={"limit": 2, "offset": 1}).json()
        early = http.get(
            "/api/v1/events/lineage",
            params={"before": "2026-11-20T10:30:00Z", "sortDirection": "asc"},
        ).json()
        late = http.get("/api/v1/events/lineage", params={"after": "2026-11-20T10:30:00Z"}).json()
        jobs = http.get("/api/v1/search", params={"q": "TRAINING%", "filter": "job"}).json()
        bad = http.get("/api/v1/search", params={"q": "x", "filter": "model"})
        no_token = http.get("/api/v1/namespaces", headers={"Authorization": ""})
    assert every["totalCount"] == 5
    times = [e["eventTime"] for e in every["events"]]
    assert times == sorted(times, reverse=True)
    assert page["totalCount"] == 5
    assert page["events"] == every["events"][1:3]
    assert [e["eventType"] for e in early["events"]] == ["START"] + ["COMPLETE"] * 3
    assert [e["run"]["runId"] for e in late["events"]] == [TRAINING_RUN]
    assert jobs == {
        "totalCount": 1,
        "results": [
            {
                "type": "JOB",
                "name": "training_set.churn",
                "updatedAt": jobs["results"][0]["updatedAt"],
                "namespace": NS,
                "nodeId": f"job:{NS}:training_set.churn",
            }
        ],
    }
    assert bad.status_code == 422
    assert no_token.status_code == 401


def test_both_backends_answer_the_same_reads(client, make_token, golden: Golden) -> None:
    """The same reads through FastAPI's TestClient on SQLite and PostgreSQL, edge inputs too."""
    producer = {"Authorization": f"Bearer {make_token('ingestor', 'producer', NS, FINANCE)}"}
    for event in (golden("ingest_start"), golden("ingest_complete"), golden("training_complete")):
        assert client.post("/api/v1/lineage", json=event, headers=producer).status_code == 201
    finance = _moved(golden("ingest_complete"), FINANCE, FINANCE_RUN)
    assert client.post("/api/v1/lineage", json=finance, headers=producer).status_code == 201
    auditor = {"Authorization": f"Bearer {make_token('auditor', 'auditor')}"}
    consumer = {"Authorization": f"Bearer {make_token('analyst', 'consumer', NS)}"}

    def get(path: str, headers: dict[str, str] = auditor, **params: Any) -> Any:
        return client.get(path, params=params, headers=headers)

    upstream = get("/api/v1/column-lineage", nodeId=f"job:{NS}:ingest.customer_transactions")
    assert upstream.status_code == 200
    down = get(
        "/api/v1/column-lineage",
        nodeId=f"datasetField:{NS}:raw/customer_transactions:amount",
        withDownstream="true",
        depth=1,
    ).json()
    amount = {n["id"]: n for n in down["graph"]}[
        f"datasetField:{NS}:raw/customer_transactions:amount"
    ]
    assert amount["outEdges"] == [
        {
            "origin": f"datasetField:{NS}:raw/customer_transactions:amount",
            "destination": f"datasetField:{NS}:offline/customer_transactions:amount",
        }
    ]
    newest = get("/api/v1/search", q="customer", sort="updated_at").json()
    assert newest["totalCount"] == 6  # two datasets and a job in each of two namespaces
    stamps = [r["updatedAt"] for r in newest["results"]]
    assert stamps == sorted(stamps, reverse=True)
    jobs = get(f"/api/v1/namespaces/{NS}/jobs").json()["jobs"]
    assert [len(j["latestRuns"]) for j in jobs] == [1, 1]
    assert get("/api/v1/events/lineage", consumer).json()["totalCount"] == 3
    assert get(f"/api/v1/namespaces/{FINANCE}/jobs", consumer).status_code == 404
    assert get("/api/v1/namespaces/nowhere").status_code == 404
    assert get("/api/v1/jobs/runs/not-a-run").status_code == 404
    for bad in (
        {"nodeId": "dataset:"},
        {"nodeId": "model:x:y"},
        {"nodeId": f"dataset:{NS}:offline/customer_transactions#off-v1"},
        {"nodeId": f"dataset:{NS}:offline/customer_transactions", "depth": -1},
    ):
        assert get("/api/v1/column-lineage", **bad).status_code == 422, bad
    assert get("/api/v1/events/lineage", before="yesterday").status_code == 422
    assert get("/api/v1/search", q="x", before="2026-13-40").status_code == 422
    assert get("/api/v1/namespaces", limit=0).json() == {"namespaces": [], "totalCount": 2}
    assert get("/api/v1/namespaces", limit=-1).status_code == 422
