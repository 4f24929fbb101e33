"""Lineage service on PostgreSQL: HTTP intake of OpenLineage RunEvents, and graph queries.

A fresh database per run (dropped at the end). The graph is bulk-loaded in-process through
``lineage.service.ingest_events`` (the same intake code the API's writer calls): chains of jobs,
each run reading the previous dataset and sometimes a random older one, ~4 nodes per event
(job, run, dataset, dataset version). Intake rate and query latency are then measured over
HTTP against ``skewless lineage serve``: intake by one sequential producer, one request at a
time, sent with httpx and with the openlineage-python client's synchronous ``HttpTransport`` (what
Airflow and dbt use; it spends about a millisecond of CPU per event itself, on the same cores as
the server); by the openlineage-python client's own ``AsyncHttpTransport`` (up to 32 requests in
flight; this client spends a few ms of CPU per event itself, so on a 2-core machine it measures
the client as much as the service); and by wrk (-t2 -c32, distinct RunEvents from a Lua script),
which costs the machine almost nothing and so measures what the service can take. Every event
is checked as accepted, and wrk's acknowledged events are counted back in the database. The
limit for the sequential rows is the same synchronous client against ``bench.intake_ceiling`` (the
same server stack doing one token lookup, one INSERT and one commit per event); for the
concurrent rows, raw psycopg INSERTs of the same JSON on as many connections, one transaction per
event. A raw INSERT on one connection is reported beside them. Feast has no lineage service.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from string import Template
from typing import Any

import httpx
import psycopg

from bench.http import free_port, run_wrk, server
from bench.measure import REPO_ROOT, percentile
from bench.ol_clients import PRODUCER, concurrent_intake, sequential_client_intake

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def _dataset(namespace: str, name: str) -> dict[str, Any]:
    facet = {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/X.json"}
    return {
        "namespace": namespace,
        "name": name,
        "facets": {"version": {**facet, "datasetVersion": "v1"}},
    }


def run_event(rng: random.Random, namespace: str, i: int, inputs: list[int]) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-20T10:00:00+00:00",
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "facets": {}},
        "job": {"namespace": namespace, "name": f"job_{i}", "facets": {}},
        "inputs": [_dataset(namespace, f"ds_{k}") for k in inputs],
        "outputs": [_dataset(namespace, f"ds_{i}")],
    }


def graph_events(nodes: int, seed: int = 11) -> list[dict[str, Any]]:
    """Chains of 100 runs; each reads its predecessor and, 30 % of the time, a random older one."""
    rng = random.Random(seed)
    events = []
    for i in range(max(10, nodes // 4)):
        inputs = [i - 1] if i % 100 else []
        if i > 1 and rng.random() < 0.3:
            inputs.append(rng.randrange(0, i - 1))
        events.append(run_event(rng, "bench", i, inputs))
    return events


# Every request is a distinct COMPLETE RunEvent (run id, job and output dataset unique per run,
# wrk thread and request) that reads the previous request's output dataset.
WRK_EVENTS = Template(r"""
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
local version = '{"_producer":"p","_schemaURL":"https://openlineage.io/spec/facets/1-0-0/X.json",'
  .. '"datasetVersion":"v1"}'
local function dataset(name)
  return '{"namespace":"$ns","name":"' .. name .. '","facets":{"version":' .. version .. '}}'
end
function request()
  n = n + 1
  local run = string.format("%08x-$salt-4000-8000-%04x%08x", n, tid, n)
  local body = '{"eventType":"COMPLETE","eventTime":"2026-11-20T10:00:00+00:00",'
    .. '"producer":"$producer","schemaURL":"$schema",'
    .. '"run":{"runId":"' .. run .. '","facets":{}},'
    .. '"job":{"namespace":"$ns","name":"job_' .. tid .. '_' .. n .. '","facets":{}},'
    .. '"inputs":[' .. dataset("ds_" .. tid .. "_" .. (n - 1)) .. '],'
    .. '"outputs":[' .. dataset("ds_" .. tid .. "_" .. n) .. ']}'
  return wrk.format("POST", "/api/v1/lineage",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer $token"}, body)
end
""")


def wrk_intake(
    scratch: Path, db: str, port: int, token: str, namespace: str, seconds: int
) -> float:
    """Events/s that wrk (-t2 -c32) gets accepted; every acknowledged event must be stored."""
    script = scratch / f"lineage_{namespace}.lua"
    script.write_text(
        WRK_EVENTS.substitute(
            ns=namespace,
            producer=PRODUCER,
            schema=SCHEMA_URL,
            token=token,
            salt=uuid.uuid4().hex[:4],  # run ids differ from every earlier run's
        )
    )
    out = run_wrk(port, script, seconds)
    if out["errors"]:
        raise RuntimeError(f"lineage intake under wrk: {out['errors']} requests failed")
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{db}") as con:
        row = con.execute(
            "SELECT count(*) FROM lineage_events WHERE payload->'job'->>'namespace' = %s",
            (namespace,),
        ).fetchone()
    stored = int(row[0]) if row else 0
    if stored < out["requests"]:
        raise RuntimeError(f"wrk saw {out['requests']} events accepted, {stored} are stored")
    return float(out["rps"])


def graph_nodes(con: psycopg.Connection[Any]) -> int:
    """Nodes of the loaded graph as the graph query counts them: jobs, runs, datasets, versions."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM runs)"
        " + (SELECT count(*) FROM datasets) + (SELECT count(*) FROM dataset_versions)"
    ).fetchone()
    return int(row[0]) if row else 0


def _admin(sql: str) -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as con:
        con.execute(sql)


def bulk_load(url: str, events: list[dict[str, Any]], batch: int = 500) -> float:
    """Ingest events in-process, ``batch`` per transaction; returns events/s."""
    from lineage.db.session import make_engine, make_sessionmaker, session_scope
    from lineage.service import Incoming, ingest_events

    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    start = time.perf_counter()
    try:
        for offset in range(0, len(events), batch):
            with session_scope(factory) as session:
                chunk = events[offset : offset + batch]
                ingest_events(session, [Incoming.of(e, "bench") for e in chunk])
    finally:
        engine.dispose()
    return len(events) / (time.perf_counter() - start)


def raw_insert_rate(db: str, events: list[dict[str, Any]], connections: int = 1) -> float:
    """The limit: one INSERT of the raw JSON per event, each in its own transaction.

    With ``connections`` > 1, that many connections insert concurrently (a thread each, the
    events dealt out round robin): the ceiling for concurrent producers, as one connection is
    for a sequential one.
    """
    from concurrent.futures import ThreadPoolExecutor

    dsn = f"postgresql://postgres@127.0.0.1:5432/{db}"
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("CREATE TABLE IF NOT EXISTS bench_raw_events (id bigserial, payload jsonb)")
    shares = [events[i::connections] for i in range(connections)]
    payloads = [[json.dumps(event) for event in share] for share in shares]
    links = [psycopg.connect(dsn, autocommit=True) for _ in range(connections)]

    def insert(pair: tuple[psycopg.Connection[Any], list[str]]) -> None:
        con, share = pair
        for payload in share:
            con.execute("INSERT INTO bench_raw_events (payload) VALUES (%s)", (payload,))

    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(connections) as pool:
            list(pool.map(insert, zip(links, payloads, strict=True)))
        return len(events) / (time.perf_counter() - start)
    finally:
        for con in links:
            con.close()


def bench_lineage(
    scratch: Path,
    nodes: int,
    intake_events: int,
    queries: int,
    runs: int,
    in_flight: int = 32,
    wrk_seconds: int = 10,
) -> dict[str, Any]:
    """Load a graph of ~``nodes`` nodes, then measure HTTP intake, ``depth=10`` graph queries and
    impact queries (everything downstream of a dataset version)."""
    from lineage.db.migrate import upgrade_head

    db = f"bench_lineage_{uuid.uuid4().hex[:10]}"
    url = PG + db
    _admin(f'CREATE DATABASE "{db}"')
    try:
        upgrade_head(url)
        events = graph_events(nodes)
        load_rate = bulk_load(url, events)
        # What autovacuum does after a bulk change; without statistics the planner assumes the
        # freshly filled tables are tiny and scans them instead of using their indexes.
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{db}", autocommit=True) as con:
            con.execute("ANALYZE")
            node_count = graph_nodes(con)
        env = {"LINEAGE_DATABASE_URL": url, "PYTHONPATH": str(REPO_ROOT)}
        skewless = str(Path(sys.executable).parent / "skewless")
        created = subprocess.run(
            [
                skewless,
                "lineage",
                "token",
                "create",
                "--principal",
                "bench",
                "--role",
                "admin",
                "--json",
            ],
            env={**__import__("os").environ, **env},
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        token = json.loads(created.stdout.strip().splitlines()[-1])["token"]
        port, ceiling_port = free_port(), free_port()
        cmd = [skewless, "lineage", "serve", "--port", str(port)]
        ceiling_cmd = [
            sys.executable,
            *("-m", "uvicorn", "bench.intake_ceiling:app", "--port", str(ceiling_port)),
            *("--log-level", "warning"),
        ]
        ceiling_env = {"CEILING_DSN": f"postgresql://postgres@127.0.0.1:5432/{db}"}
        ceiling: list[float] = []
        rng = random.Random(5)
        intake, burst, client_cpu, p95s, raw, loaded = [], [], [], [], [], []
        sync_client: list[float] = []
        sync_client_cpu: list[float] = []
        raw_concurrent: list[float] = []
        answered: list[int] = []
        impacted: list[int] = []
        impact_p95s: list[float] = []
        truncated = 0
        with (
            server(cmd, env, port, scratch / "lineage_serve.log", REPO_ROOT, "/health"),
            server(ceiling_cmd, ceiling_env, ceiling_port, scratch / "ceiling.log", REPO_ROOT, "/"),
        ):
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30
            ) as client:
                for run in range(runs):
                    fresh = [
                        run_event(rng, f"intake{run}", i, [i - 1] if i else [])
                        for i in range(intake_events)
                    ]
                    start = time.perf_counter()
                    for event in fresh:
                        client.post("/api/v1/lineage", json=event).raise_for_status()
                    intake.append(intake_events / (time.perf_counter() - start))
                    base = f"http://127.0.0.1:{port}"
                    sequential = [
                        run_event(rng, f"sync{run}", i, [i - 1] if i else [])
                        for i in range(intake_events)
                    ]
                    rate, cpu = sequential_client_intake(base, token, sequential)
                    sync_client.append(rate)
                    sync_client_cpu.append(cpu)
                    floor = [
                        run_event(rng, f"ceiling{run}", i, [i - 1] if i else [])
                        for i in range(intake_events)
                    ]
                    ceiling_base = f"http://127.0.0.1:{ceiling_port}"
                    ceiling.append(sequential_client_intake(ceiling_base, token, floor)[0])
                    raw.append(raw_insert_rate(db, fresh))
                    many = [
                        run_event(rng, f"burst{run}", i, [i - 1] if i else [])
                        for i in range(4 * intake_events)
                    ]
                    rate, cpu = concurrent_intake(base, token, many, in_flight)
                    raw_concurrent.append(raw_insert_rate(db, many, in_flight))
                    burst.append(rate)
                    client_cpu.append(cpu)
                    loaded.append(wrk_intake(scratch, db, port, token, f"wrk{run}", wrk_seconds))
                    samples = []
                    for _ in range(queries):
                        node = f"dataset:bench:ds_{rng.randrange(len(events))}"
                        begin = time.perf_counter()
                        answer = client.get(
                            "/api/v1/lineage", params={"nodeId": node, "depth": 10}
                        ).raise_for_status()
                        samples.append((time.perf_counter() - begin) * 1000)
                        body = answer.json()
                        answered.append(len(body["graph"]))
                        truncated += bool(body["truncated"])
                    p95s.append(percentile(samples, 95))
                    samples = []
                    for _ in range(queries):
                        params = {
                            "namespace": "bench",
                            "dataset": f"ds_{rng.randrange(len(events))}",
                            "version": "v1",
                        }
                        begin = time.perf_counter()
                        found = client.get("/api/v1/impact", params=params).raise_for_status()
                        samples.append((time.perf_counter() - begin) * 1000)
                        impacted.append(len(found.json()["datasetVersions"]))
                    impact_p95s.append(percentile(samples, 95))
        return {
            "graph_events": len(events),
            "graph_nodes": node_count,
            "query_nodes_median": sorted(answered)[len(answered) // 2],
            "query_truncated_share": truncated / len(answered),
            "bulk_load_events_per_s": load_rate,
            "intake": intake,
            "intake_sync_client": sync_client,
            "intake_sync_ceiling": ceiling,
            "sync_client_cpu_ms_per_event": sync_client_cpu,
            "intake_concurrent": burst,
            "client_cpu_ms_per_event": client_cpu,
            "intake_wrk": loaded,
            "in_flight": in_flight,
            "raw_insert": raw,
            "raw_insert_concurrent": raw_concurrent,
            "query_p95_ms": p95s,
            "impact_p95_ms": impact_p95s,
            "impact_versions_median": sorted(impacted)[len(impacted) // 2],
        }
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
