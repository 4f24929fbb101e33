"""Two `skewless lineage serve` replicas on one PostgreSQL derive the graph one process would.

Producers send the same stream of events (runs of many jobs over shared datasets, with
duplicates and out-of-order pairs) concurrently to two replicas of the lineage service; the
same events go one by one into a second database through the intake function. Every dataset
and job then has the same versions, runs, states and edges in both databases.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from lineage import service
from lineage.db.migrate import upgrade_head
from services.cli import app
from tests.integration.lineage_pipeline import lineage_session
from tests.integration.serving.conftest import free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
NS = "replicas"
PRODUCER = "https://github.com/acme/replicated-producer"
JOBS, RUNS, SHARED = 24, 4, 4


def _database() -> str:
    name = f"lineage_repl_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    names = (_database(), _database())
    try:
        yield tuple(f"postgresql+psycopg://postgres@127.0.0.1:5432/{n}" for n in names)  # type: ignore[misc]
    finally:
        for name in names:
            _drop(name)


def _dataset(name: str, version: str) -> dict[str, Any]:
    facet = {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json",
        "datasetVersion": version,
    }
    return {"namespace": NS, "name": name, "facets": {"version": facet}}


def _events() -> list[dict[str, Any]]:
    """START/COMPLETE of every run; jobs share their inputs; some events twice."""
    events = []
    for job in range(JOBS):
        for run in range(RUNS):
            run_id = str(uuid.UUID(int=job * 1000 + run + 1, version=4))
            inputs = [_dataset(f"raw/shared_{job % SHARED}", f"v{run}")]
            outputs = [_dataset(f"out/job_{job}", f"v{run}")]
            for state, minute in (("START", 0), ("COMPLETE", 5)):
                events.append(
                    {
                        "eventType": state,
                        "eventTime": f"2026-12-01T{10 + run:02d}:{minute:02d}:00+00:00",
                        "run": {"runId": run_id},
                        "job": {"namespace": NS, "name": f"job_{job}"},
                        "inputs": inputs,
                        "outputs": outputs if state == "COMPLETE" else [],
                        "producer": PRODUCER,
                        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
                    }
                )
    return events


def _serve(url: str, tmp: Path, name: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with (tmp / f"{name}.log").open("wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "lineage", "serve", "--port", str(port)],
            env={**os.environ, "LINEAGE_DATABASE_URL": url},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError((tmp / f"{name}.log").read_text())
        try:
            return httpx.get(f"{base}/health").status_code == 200
        except httpx.TransportError:
            return False

    wait_for(ready, f"lineage replica {name}")
    return proc, base


def _run_edges(s: Any, run_id: str) -> tuple[list[str], list[str]]:
    start = f"run:{run_id}"
    graph = service.lineage_graph(s, start, 1, None)["graph"]
    node = next(n for n in graph if n["id"] == start)
    return (
        sorted(str(e["origin"]) for e in node["inEdges"]),
        sorted(str(e["destination"]) for e in node["outEdges"]),
    )


def _shape(url: str) -> dict[str, Any]:
    """What the graph says of every job and dataset: versions, runs with states, edges."""
    shape: dict[str, Any] = {}
    with lineage_session(url) as s:
        nodes = [f"job:{NS}:job_{j}" for j in range(JOBS)]
        nodes += [f"dataset:{NS}:raw/shared_{k}" for k in range(SHARED)]
        nodes += [f"dataset:{NS}:out/job_{j}" for j in range(JOBS)]
        for node in nodes:
            items = service.history(s, node, limit=500)["items"]
            history = sorted((i.get("version") or i.get("runId"), i.get("state")) for i in items)
            graph = service.lineage_graph(s, node, 2, None)["graph"]
            edges = sorted(
                (str(e["origin"]), str(e["destination"]))
                for n in graph
                for e in (*n["inEdges"], *n["outEdges"])
            )
            runs = {  # each run's dataset versions read and written
                run: _run_edges(s, run) for run, _ in history if node.startswith("job:")
            }
            shape[node] = {"history": history, "edges": edges, "runs": runs}
    return shape


def test_two_replicas_derive_what_one_process_derives(
    databases: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replicated, single = databases
    upgrade_head(replicated)
    monkeypatch.setenv("LINEAGE_DATABASE_URL", replicated)
    created = CliRunner().invoke(
        app,
        [
            "lineage",
            "token",
            "create",
            "--principal",
            "loader",
            "--role",
            "producer",
            "--namespace",
            NS,
            "--json",
        ],
    )
    assert created.exit_code == 0, created.output
    token = json.loads(created.output)["token"]

    events = _events()
    stream = events + random.Random(5).sample(events, 40)  # retried duplicates
    random.Random(7).shuffle(stream)  # out of order: a COMPLETE may come before its START
    procs = [_serve(replicated, tmp_path, name) for name in ("a", "b")]
    try:
        headers = {"Authorization": f"Bearer {token}"}
        clients = [httpx.Client(base_url=base, headers=headers, timeout=60) for _, base in procs]

        def send(i: int) -> int:
            return clients[i % 2].post("/api/v1/lineage", json=stream[i]).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(send, range(len(stream))))
        for client in clients:
            client.close()
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(timeout=30)
    assert set(statuses) <= {200, 201}, statuses

    upgrade_head(single)
    with lineage_session(single) as s:
        for event in sorted(stream, key=lambda e: (e["eventTime"], e["eventType"] != "START")):
            service.ingest_event(s, event)
    replicated_shape, single_shape = _shape(replicated), _shape(single)
    assert replicated_shape == single_shape
    assert all(len(v["history"]) == RUNS for k, v in single_shape.items() if "out/job_" in k)
    for node, found in single_shape.items():
        if node.startswith("job:"):  # every run complete, each reading and writing a version
            assert {state for _, state in found["history"]} == {"COMPLETE"}
            assert all(len(ins) == 1 and len(outs) == 1 for ins, outs in found["runs"].values())
