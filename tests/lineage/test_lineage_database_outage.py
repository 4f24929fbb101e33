"""The lineage database goes away under a running ``skewless lineage serve``, then comes back.

The server runs as a real process on a real PostgreSQL database. The database is made
unreachable for real (it stops accepting connections and its sessions are terminated): reads,
writes and intake answer 503 with ``Retry-After`` and the usual JSON error body, ``/health``
answers 503 with ``{"status": "unavailable", "database": false}``; once the database accepts
connections again, the same server answers 200/201 by itself.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from bench.http import free_port, server
from lineage import token_admin
from lineage.db.migrate import upgrade_head
from lineage.db.session import make_engine, make_sessionmaker, session_scope
from lineage.identity import NAMESPACE

pytestmark = pytest.mark.integration

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
REPO_ROOT = Path(__file__).resolve().parents[2]
RECOVERY_DEADLINE_S = 30.0


@pytest.fixture
def database() -> Iterator[tuple[str, str]]:
    name = f"lineage_outage_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        upgrade_head(url)
        yield name, url
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_token(url: str) -> str:
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            return token_admin.create_token(session, "outage-admin", "admin", [NAMESPACE])
    finally:
        engine.dispose()


def _take_down(name: str) -> None:
    """No new connection is accepted and every open one is cut, as when the server goes away."""
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )


def _bring_back(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def _event() -> dict[str, Any]:
    return {
        "eventType": "START",
        "eventTime": "2026-12-01T10:00:00+00:00",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": NAMESPACE, "name": "ingest.outage"},
        "producer": "https://example.org/outage-test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == "unavailable"


def test_a_running_server_answers_503_while_its_database_is_down_then_recovers(
    database: tuple[str, str], tmp_path: Path
) -> None:
    name, url = database
    token = _admin_token(url)
    port = free_port()
    cmd = [sys.executable, "-m", "services.cli", "lineage", "serve", "--port", str(port)]
    env = {"LINEAGE_DATABASE_URL": url, "LINEAGE_BOOTSTRAP_ADMIN_TOKEN": ""}
    with (
        server(cmd, env, port, tmp_path / "serve.log", REPO_ROOT, ready_path="/health"),
        httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as client,
    ):
        assert client.get("/health").json() == {"status": "ok", "database": True}
        assert client.get("/api/v1/tokens").status_code == 200
        assert client.post("/api/v1/lineage", json=_event()).status_code == 201

        _take_down(name)
        for _ in range(2):  # the server keeps answering, the same way each time
            health = client.get("/health")
            assert health.status_code == 503
            assert health.json() == {"status": "unavailable", "database": False}
            _assert_unavailable(client.get("/api/v1/tokens"))
            _assert_unavailable(client.get("/api/v1/history", params={"nodeId": "job:x:y"}))
            _assert_unavailable(client.post("/api/v1/lineage", json=_event()))
            _assert_unavailable(
                client.post(
                    "/api/v1/models", json={"name": "m", "version": "1", "trainingSetVersion": "t"}
                )
            )

        _bring_back(name)
        deadline = time.monotonic() + RECOVERY_DEADLINE_S
        while client.get("/health").status_code != 200:  # readiness poll with a deadline
            assert time.monotonic() < deadline, "the server did not see its database come back"
            time.sleep(0.1)
        assert client.get("/health").json() == {"status": "ok", "database": True}
        assert client.get("/api/v1/tokens").status_code == 200
        stored = client.post("/api/v1/lineage", json=_event())
        assert stored.status_code == 201, stored.text
        assert stored.json()["status"] == "created"
