"""The data plane's production path: lineage over HTTP to a real ``skewless lineage serve``.

The service runs as its own process on a fresh PostgreSQL database. The data plane is configured
only through its settings (``LINEAGE_URL``, ``LINEAGE_TOKEN``); while the service is down its
events are spooled, and the first emit once it is up replays them, in order, before its own.
"""

from __future__ import annotations

import contextlib
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

from lineage import service, token_admin
from lineage.db.migrate import upgrade_head
from lineage.identity import (
    NAMESPACE,
    data_source_dataset,
    feature_service_dataset,
    feature_view_dataset,
    source_dataset,
    training_set_dataset,
)
from services import sdk
from services.definition_versions import service_version, view_version
from services.lineage_events import _EMITTERS
from services.sdk import Client
from services.settings import Settings
from tests.demo_repo import write_demo_data
from tests.integration.lineage_pipeline import Project, data_source_version, lineage_session
from tests.integration.serving.conftest import free_port

pytestmark = pytest.mark.integration

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
V2_VIEWS = ("customer_transactions_daily", "customer_profile", "merchant_risk", "transaction_risk")


@pytest.fixture
def pg_url() -> Iterator[str]:
    name = f"emission_test_{uuid.uuid4().hex}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade_head(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class LineageServe:
    """``skewless lineage serve`` in a child process, on ``port``."""

    def __init__(self, database_url: str, port: int, log: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SKEWLESS_", "LINEAGE_"))}
        env["LINEAGE_DATABASE_URL"] = database_url
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "lineage", "serve", "--port", str(port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.log = log

    def wait_ready(self) -> None:
        """Poll ``/health`` until it answers (readiness, not a timing assertion)."""
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("lineage serve exited:\n" + self.log.read_text())
            try:
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=0.1)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        self._log.close()


def test_data_plane_spools_while_the_service_is_down_then_replays_over_http(
    make_settings: Callable[..., Settings], pg_url: str, tmp_path: Path
) -> None:
    with lineage_session(pg_url) as s:
        token = token_admin.create_token(s, "pipeline", "producer", [NAMESPACE])
    port = free_port()
    settings = make_settings("redis", lineage_url=f"http://127.0.0.1:{port}", lineage_token=token)
    files = write_demo_data(tmp_path / "raw", seed=7, customers=30, days=6)
    client = Client(settings)
    project = Project(settings, client, files)
    spool = settings.lineage_spool_path
    serve: LineageServe | None = None
    try:
        ingested = project.ingest_all()  # nothing listens yet: all of it goes to the spool
        project.apply()
        spooled = [json.loads(line) for line in spool.read_text().splitlines()]
        assert len(spooled) == 2 * (3 + 4 + 2)  # START + COMPLETE: 3 ingests, 4 views, 2 services
        with lineage_session(pg_url) as s:
            assert service.summary(s)["events"] == 0

        serve = LineageServe(pg_url, port, tmp_path / "serve.log")
        serve.wait_ready()
        project.materialize()  # the spool is replayed first, then these are sent
        _, ts = client.training_set(project.entities(), "fraud_detection_v2", name="fraud")
        sdk.register_model("fraud-model", "1", ts.version, {"auc": 0.9})  # POST /api/v1/models
        client.register_deployment("fraud-model", "1", "prod", "fraud_detection_v2")
        client.register_deployment("ghost-model", "1", "prod", "fraud_detection_v2")  # a 404
        store = client.store
        expected = {(training_set_dataset("fraud"), ts.version)}
        expected |= {(source_dataset(v), r.dataset_version) for v, r in ingested.items()}
        expected |= {(feature_view_dataset(v), view_version(store, v)) for v in V2_VIEWS}
        expected |= {(data_source_dataset(v), data_source_version(store, v)) for v in V2_VIEWS[:3]}
        expected.add(
            (
                feature_service_dataset("fraud_detection_v2"),
                service_version(store, "fraud_detection_v2"),
            )
        )
    finally:
        for emitter in _EMITTERS.values():
            emitter.close()
        _EMITTERS.clear()
        client.close()
        if serve is not None:
            serve.stop()

    assert spool.read_text() == ""
    rejected = spool.with_name(spool.name + ".rejected.jsonl").read_text().splitlines()
    assert [json.loads(line)["body"]["model"] for line in rejected] == ["ghost-model"]
    with lineage_session(pg_url) as s:
        served = service.usage(s, "merchant_risk")["deployments"]
        assert [(d["model"], d["environment"]) for d in served] == [("fraud-model", "prod")]
        summary = service.summary(s)
        assert summary["runs"] == {"COMPLETE": 3 + 4 + 2 + 3 + 1}  # ... 3 materializations, 1 ts
        assert summary["events"] == 2 * (3 + 4 + 2 + 3 + 1)
        found = service.provenance(s, "fraud-model", "1")
    assert {(d["name"], d["version"]) for d in found["datasetVersions"]} == expected
