"""The lineage issue's acceptance story, end to end, on PostgreSQL.

A producer none of us wrote (the openlineage-python client's ``HttpTransport``, with a namespace
and job names of its own) sends START and COMPLETE events to ``skewless lineage serve`` running
as a subprocess, out of order and with a retried duplicate. A model is registered and deployed
over HTTP, and a consumer reads a feature view through the feature server. Then an auditor token,
and nothing else, answers the four questions: which dataset versions trained model M v3; which
models are affected if dataset D v7 is bad; who read feature view F, and when; and the audit chain
verifies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated import dataset_version_dataset, source_code_location_job
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport
from openlineage.client.uuid import generate_new_uuid
from typer.testing import CliRunner

from services.cli import app
from services.lineage_events import emit_apply
from services.settings import Settings
from services.store import Store
from tests.integration.serving.conftest import ServerThread, free_port, load_project
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PRODUCER = "https://github.com/acme/warehouse-loader"  # not Skewless
WAREHOUSE = "warehouse"  # the foreign producer's own namespace
RAW = "transactions_raw"  # dataset D
runner = CliRunner()


@pytest.fixture
def lineage_db(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"lineage_accept_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    monkeypatch.setenv("LINEAGE_DATABASE_URL", url)
    try:
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def lineage_service(lineage_db: str, tmp_path: Path) -> Iterator[str]:
    """``skewless lineage serve`` as an operator starts it, on a free port."""
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    skewless = Path(sys.executable).parent / "skewless"
    proc = subprocess.Popen(
        [str(skewless), "lineage", "serve", "--port", str(port)],
        env={**os.environ, "LINEAGE_DATABASE_URL": lineage_db},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if proc.poll() is not None:  # a dead server fails at once, with its log
                raise RuntimeError((tmp_path / "serve.log").read_text())
            try:
                return httpx.get(f"{url}/health").status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, "skewless lineage serve to answer /health")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def token(principal: str, role: str, *namespaces: str) -> str:
    args = ["lineage", "token", "create", "--principal", principal, "--role", role, "--json"]
    for ns in namespaces:
        args += ["--namespace", ns]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return str(json.loads(result.output)["token"])


def version(v: str) -> dict[str, dataset_version_dataset.DatasetVersionDatasetFacet]:
    return {"version": dataset_version_dataset.DatasetVersionDatasetFacet(v)}


def run_pair(
    job: Job, inputs: list[InputDataset], outputs: list[OutputDataset]
) -> tuple[RunEvent, RunEvent]:
    run = Run(runId=str(generate_new_uuid()))
    start = RunEvent(
        eventType=RunState.START,
        eventTime="2026-11-30T10:00:00+00:00",
        run=run,
        job=job,
        producer=PRODUCER,
        inputs=inputs,
    )
    complete = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime="2026-11-30T10:05:00+00:00",
        run=run,
        job=job,
        producer=PRODUCER,
        inputs=inputs,
        outputs=outputs,
    )
    return start, complete


def send_foreign_events(url: str, producer_token: str) -> int:
    """What the warehouse team's pipeline sends; returns how many distinct events it emitted."""
    client = OpenLineageClient(
        transport=HttpTransport(
            HttpConfig(url=url, auth=ApiKeyTokenProvider({"apiKey": producer_token}))
        )
    )
    sent = 0
    load = Job(namespace=WAREHOUSE, name="load_transactions")
    for v in range(1, 8):  # D v1 .. v7, one load run each
        start, complete = run_pair(
            load, [], [OutputDataset(namespace=WAREHOUSE, name=RAW, facets=version(f"v{v}"))]
        )
        # v7 arrives out of order, and its COMPLETE is retried as the client would.
        for event in [complete, start, complete] if v == 7 else [start, complete]:
            client.emit(event)
        sent += 2
    code = source_code_location_job.SourceCodeLocationJobFacet(
        type="git", url="https://github.com/acme/fraud-model", version="9f3c2e1"
    )
    build = Job(
        namespace="skewless", name="training_set.fraud", facets={"sourceCodeLocation": code}
    )
    for d, ts in (("v6", "ts-2"), ("v7", "ts-3")):
        start, complete = run_pair(
            build,
            [InputDataset(namespace=WAREHOUSE, name=RAW, facets=version(d))],
            [OutputDataset(namespace="skewless", name="training_set/fraud", facets=version(ts))],
        )
        client.emit(start)
        client.emit(complete)
        sent += 2
    client.close()
    return sent


def test_an_auditor_answers_the_four_questions(
    lineage_service: str,
    lineage_db: str,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> None:
    assert runner.invoke(app, ["lineage", "migrate"]).exit_code == 0  # already at head: a no-op
    producer = token("acme-warehouse", "producer", WAREHOUSE, "skewless")
    consumer = token("fraud-scoring", "consumer", "skewless")
    outsider = token("finance-bi", "consumer", "finance")
    auditor = token("auditor-kim", "auditor")
    sent = send_foreign_events(lineage_service, producer)
    # The feature store itself: `skewless apply` records its views and feature services.
    settings = make_settings("sqlite")
    load_project(settings, tmp_path)
    store = Store(settings)
    emit_apply(settings, store)
    store.close()

    api = httpx.Client(base_url=lineage_service, timeout=30)
    as_producer = {"Authorization": f"Bearer {producer}"}
    for model, ts in (("2", "ts-2"), ("3", "ts-3")):
        body = {
            "name": "fraud",
            "version": model,
            "trainingSetVersion": ts,
            "metrics": {"auc": 0.9},
        }
        assert api.post("/api/v1/models", json=body, headers=as_producer).status_code == 201
    deploy = {
        "model": "fraud",
        "version": "3",
        "environment": "prod",
        "featureService": "fraud_detection_v2",
    }
    assert api.post("/api/v1/deployments", json=deploy, headers=as_producer).status_code == 201

    # A consumer reads feature view F through the feature server, and an outsider is refused.
    read = {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [1]}}
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=10) as features:

        def read_as(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            return features.post("/get-online-features", json=read, headers=headers).status_code

        assert read_as(consumer) == 200
        assert read_as(outsider) == 403
    # (Leaving the block flushed the feature server's read audit into the lineage database.)

    as_auditor = {"Authorization": f"Bearer {auditor}"}
    # The retried duplicate was a no-op: only distinct events are stored.
    with psycopg.connect(lineage_db.replace("+psycopg", "")) as con:
        row = con.execute(
            "SELECT count(*) FROM lineage_events WHERE received_by = 'acme-warehouse'"
        ).fetchone()
    assert row is not None
    assert row[0] == sent

    # 1. Which dataset versions trained model fraud v3? Exactly D v7, with the code version.
    prov = api.get("/api/v1/provenance/models/fraud/3", headers=as_auditor)
    assert prov.status_code == 200, prov.text
    p = prov.json()
    assert p["trainingSetVersion"] == "ts-3"
    assert {(v["namespace"], v["name"], v["version"]) for v in p["datasetVersions"]} == {
        (WAREHOUSE, RAW, "v7"),
        ("skewless", "training_set/fraud", "ts-3"),
    }
    assert {r["job"]["name"]: r["codeVersion"] for r in p["runs"]} == {
        "training_set.fraud": "9f3c2e1",
        "load_transactions": None,
    }

    # 2. Which models are affected if D v7 is bad? fraud v3 and its deployment, not v2 (v6).
    hit = api.get(
        "/api/v1/impact",
        params={"namespace": WAREHOUSE, "dataset": RAW, "version": "v7"},
        headers=as_auditor,
    )
    assert hit.status_code == 200, hit.text
    models = hit.json()["modelVersions"]
    assert [(m["name"], m["version"], m["deployments"]) for m in models] == [
        ("fraud", "3", ["prod"])
    ]
    assert [t["version"] for t in hit.json()["trainingSets"]] == ["ts-3"]

    # The Marquez-compatible graph from D reaches the training job; D has seven versions, not one
    # per event.
    graph = api.get(
        "/api/v1/lineage",
        params={"nodeId": f"dataset:{WAREHOUSE}:{RAW}", "depth": 10},
        headers=as_auditor,
    )
    assert graph.status_code == 200, graph.text
    assert "job:skewless:training_set.fraud" in {n["id"] for n in graph.json()["graph"]}
    hist = api.get(
        "/api/v1/history", params={"nodeId": f"dataset:{WAREHOUSE}:{RAW}"}, headers=as_auditor
    )
    assert hist.status_code == 200, hist.text
    assert hist.json()["total"] == 7

    # 3. Who read feature view F, and when?
    reads = api.get("/api/v1/reads/feature-views/merchant_risk", headers=as_auditor)
    assert reads.status_code == 200, reads.text
    accesses = reads.json()["accesses"]
    assert {(a["principal"], a["allowed"]) for a in accesses} == {
        ("fraud-scoring", True),
        ("finance-bi", False),
    }
    assert all(a["ts"] and a["sourceAddress"] == "127.0.0.1" for a in accesses)
    # ... and which deployment serves it online (through the feature service it was deployed on).
    usage = api.get("/api/v1/usage/feature-views/merchant_risk", headers=as_auditor)
    assert usage.status_code == 200, usage.text
    assert [(d["model"], d["version"], d["environment"]) for d in usage.json()["deployments"]] == [
        ("fraud", "3", "prod")
    ]

    # An auditor reads everything but writes nothing.
    body = {"name": "fraud", "version": "4", "trainingSetVersion": "ts-3"}
    assert api.post("/api/v1/models", json=body, headers=as_auditor).status_code == 403

    # 4. The audit chain verifies, and it holds the auditor's own questions.
    verify = runner.invoke(app, ["lineage", "audit", "verify"])
    assert verify.exit_code == 0, verify.output
    own = api.get("/api/v1/audit", params={"principal": "auditor-kim"}, headers=as_auditor)
    assert own.status_code == 200, own.text
    assert "model:fraud:3" in {e["object"] for e in own.json()["entries"]}
    api.close()
