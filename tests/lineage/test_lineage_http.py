"""A real lineage service on a loopback port, fed by the real openlineage-python client and by
the Skewless emitter (HTTP and in-process), including the spool when the service is down."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import psycopg
import pytest
import uvicorn
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.generated import dataset_version_dataset
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport
from openlineage.client.uuid import generate_new_uuid
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lineage import service
from lineage.api import create_app
from lineage.audit_verify import verify_chain
from lineage.db.models import AuditLog, LineageEvent
from lineage.db.session import session_scope
from lineage.emitter import DatasetRef, Emitter
from lineage.identity import NAMESPACE, job_name, source_dataset, training_set_dataset
from lineage.intake_process import IntakeProcess
from lineage.settings import LineageSettings
from tests.waiting import wait_for

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServiceThread:
    def __init__(self, settings: LineageSettings, port: int) -> None:
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> ServiceThread:
        self.thread.start()

        def started() -> bool:
            if not self.thread.is_alive():
                raise RuntimeError("lineage service failed to start")
            return bool(self.server.started)

        wait_for(started, "the lineage service to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join()


@pytest.fixture
def live(settings: LineageSettings) -> Iterator[ServiceThread]:
    served = settings.model_copy(update={"intake_writer": "process"})  # as `lineage serve` runs
    with ServiceThread(served, free_port()) as svc:
        yield svc


def events_stored(maker: sessionmaker[Session]) -> int:
    with session_scope(maker) as s:
        return int(s.scalar(select(func.count()).select_from(LineageEvent)) or 0)


def graph_ids(maker: sessionmaker[Session], node: str) -> set[str]:
    with session_scope(maker) as s:
        return {n["id"] for n in service.lineage_graph(s, node, 5, None)["graph"]}


def test_openlineage_client_start_complete_and_retried_duplicate(live, make_token, maker) -> None:
    token = make_token("producer", "producer", NAMESPACE)
    transport = HttpTransport(HttpConfig(url=live.url, auth=ApiKeyTokenProvider({"apiKey": token})))
    client = OpenLineageClient(transport=transport)
    run = Run(runId=str(generate_new_uuid()))
    job = Job(namespace=NAMESPACE, name=job_name("ingest", "customers"))
    facets = {"version": dataset_version_dataset.DatasetVersionDatasetFacet("v1")}
    output = OutputDataset(namespace=NAMESPACE, name=source_dataset("customers"), facets=facets)
    now = datetime.now(UTC).isoformat()
    start = RunEvent(
        eventType=RunState.START, eventTime=now, run=run, job=job, producer="https://t"
    )
    complete = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=now,
        run=run,
        job=job,
        producer="https://t",
        outputs=[output],
    )
    client.emit(start)
    client.emit(complete)
    client.emit(complete)  # what the client's own retry would resend
    assert events_stored(maker) == 2
    assert graph_ids(maker, f"job:{NAMESPACE}:ingest.customers") == {
        f"job:{NAMESPACE}:ingest.customers",
        f"dataset:{NAMESPACE}:offline/customers",
    }
    with session_scope(maker) as s:
        assert service.summary(s)["runs"] == {"COMPLETE": 1}


def test_emitter_over_http_sends_start_complete_and_model(
    live, make_token, maker, tmp_path
) -> None:
    token = make_token("pipeline", "producer", NAMESPACE)
    emitter = Emitter(
        database_url="", url=live.url, token=token, spool_path=tmp_path / "spool.jsonl"
    )
    raw = DatasetRef(source_dataset("customers"), version="v1", fields=(("id", "int64", "key"),))
    ts = DatasetRef(
        training_set_dataset("churn"),
        version="ts1",
        row_count=10,
        assertions=(("not_null", True, "id"),),
        metrics={"rowCount": 10, "id.nullCount": 0},
    )
    emitter.emit_run(job_name("training_set", "churn"), inputs=[raw], outputs=[ts])
    emitter.register_model("churn", "1", "ts1", {"auc": 0.8})
    emitter.close()
    assert not (tmp_path / "spool.jsonl.rejected.jsonl").exists()
    with session_scope(maker) as s:
        found = service.provenance(s, "churn", "1")
    assert {d["version"] for d in found["datasetVersions"]} == {"v1", "ts1"}
    assert found["trainingSet"]["rowCount"] == 10


def test_emitter_spools_while_down_and_flush_delivers_exactly_once(
    settings, make_token, maker, tmp_path
) -> None:
    port = free_port()
    spool = tmp_path / "spool.jsonl"
    token = make_token("pipeline", "producer", NAMESPACE)
    emitter = Emitter(
        database_url="", url=f"http://127.0.0.1:{port}", token=token, spool_path=spool
    )
    ref = DatasetRef(source_dataset("orders"), version="o1")
    run_id = emitter.emit_run(job_name("ingest", "orders"), outputs=[ref])
    emitter.emit_run(
        job_name("ingest", "orders"), outputs=[DatasetRef(source_dataset("orders"), version="o2")]
    )
    emitter.register_model("m", "1", "o2", {})
    assert len(spool.read_text().splitlines()) == 5
    assert events_stored(maker) == 0
    with ServiceThread(settings, port):
        assert emitter.flush() == 5
        assert emitter.flush() == 0
    emitter.close()
    assert spool.read_text() == ""
    assert events_stored(maker) == 4
    with session_scope(maker) as s:
        assert service.summary(s)["runs"] == {"COMPLETE": 2}
        graph = service.lineage_graph(s, f"run:{run_id}", 1, None)
    assert f"datasetVersion:{NAMESPACE}:offline/orders#o1" in {n["id"] for n in graph["graph"]}


def test_replaying_an_already_delivered_record_is_harmless(
    live, make_token, maker, tmp_path
) -> None:
    token = make_token("pipeline", "producer", NAMESPACE)
    spool = tmp_path / "spool.jsonl"
    emitter = Emitter(database_url="", url=live.url, token=token, spool_path=spool)
    emitter.emit_run(
        job_name("ingest", "orders"), outputs=[DatasetRef(source_dataset("orders"), version="o1")]
    )
    with session_scope(maker) as s:
        payloads = [e.payload for e in s.scalars(select(LineageEvent))]
    for payload in payloads:  # as if the service stored them but the answer was lost
        Emitter._append(spool, {"kind": "event", "body": payload})
    assert emitter.flush() == 2
    emitter.close()
    assert events_stored(maker) == 2


def test_bad_token_is_spooled_not_raised(live, tmp_path, maker) -> None:
    spool = tmp_path / "spool.jsonl"
    emitter = Emitter(database_url="", url=live.url, token="wrong", spool_path=spool)
    emitter.emit_run(job_name("ingest", "orders"))
    emitter.close()
    assert len(spool.read_text().splitlines()) == 2
    assert events_stored(maker) == 0


def test_in_process_emitter_records_failures_without_raising(db_url, maker, tmp_path) -> None:
    emitter = Emitter(database_url=db_url, spool_path=tmp_path / "spool.jsonl")
    error = ValueError("contract violated")
    run_id = emitter.emit_run(
        job_name("ingest", "orders"),
        outputs=[DatasetRef(source_dataset("orders"), version="o1")],
        fail=error,
    )
    emitter.close()
    with session_scope(maker) as s:
        graph = service.lineage_graph(s, f"run:{run_id}", 0, None)
    assert graph["graph"][0]["data"]["state"] == "FAIL"
    assert not (tmp_path / "spool.jsonl").exists() or (tmp_path / "spool.jsonl").read_text() == ""


def test_in_process_emitter_migrates_a_new_database(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'lineage.db'}"
    emitter = Emitter(database_url=url, spool_path=tmp_path / "spool.jsonl")
    emitter.emit_run(
        job_name("ingest", "orders"), outputs=[DatasetRef(source_dataset("orders"), version="o1")]
    )
    emitter.register_model("m", "1", "o1", {"auc": 1.0})
    emitter.close()
    assert (tmp_path / "fresh" / "lineage.db").exists()


def _run_event(namespace: str, name: str, event_time: str | None = "2026-11-20T10:00:00Z") -> dict:
    facet = {"_producer": "https://example.com/t", "_schemaURL": "https://example.com/s.json"}
    event = {
        "eventType": "COMPLETE",
        "producer": "https://example.com/t",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(generate_new_uuid())},
        "job": {"namespace": namespace, "name": name},
        "outputs": [
            {
                "namespace": namespace,
                "name": f"{name}_out",
                "facets": {"version": {**facet, "datasetVersion": "v1"}},
            }
        ],
    }
    if event_time is not None:
        event["eventTime"] = event_time
    return event


def test_concurrent_posts_share_commits_yet_each_is_authorized_and_audited(
    live, make_token, maker, db_url
) -> None:
    """Concurrent requests are committed in shared batches by the intake writer process; each
    still gets its own status (201, 401, 403, 422) and its own audit entry, a value the database
    refuses fails alone, and nothing valid is lost."""
    token = make_token("producer", "producer", "good")
    valid = [_run_event("good", f"job_{i}") for i in range(30)]
    cases = [(token, e, 201) for e in valid]
    cases += [(token, valid[0], 201)] * 4  # retried duplicates
    cases += [("wrong-token", _run_event("good", "x"), 401)] * 4
    cases += [(token, _run_event("other", f"y{i}"), 403) for i in range(4)]
    cases += [(token, _run_event("good", f"z{i}", event_time=None), 422) for i in range(4)]
    far = "9999-12-31T23:59:59-01:00"  # year 10000 in UTC: refused before it reaches a batch
    cases += [(token, _run_event("good", f"job_{i}", event_time=far), 422) for i in range(3)]
    postgresql = db_url.startswith("postgresql")  # its text cannot hold NUL; SQLite's can
    refused = [_run_event("good", f"nul\x00{i}") for i in range(3)]
    cases += [(token, e, 422 if postgresql else 201) for e in refused]
    random.Random(7).shuffle(cases)

    def post(case: tuple[str, dict, int]) -> int:
        with httpx.Client(base_url=live.url, timeout=30) as http:
            headers = {"Authorization": f"Bearer {case[0]}"}
            return http.post("/api/v1/lineage", json=case[1], headers=headers).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(post, cases))
    assert statuses == [expected for _, _, expected in cases]
    assert events_stored(maker) == len(valid) + (0 if postgresql else len(refused))
    with session_scope(maker) as s:
        posts = s.scalars(select(AuditLog).where(AuditLog.action == "POST /api/v1/lineage")).all()
        assert verify_chain(s, key=None) is None
    assert len(posts) == len(cases)
    assert sum(not p.allowed for p in posts) == 8  # 4 unauthenticated + 4 forbidden
    assert sum(p.principal == "anonymous" for p in posts) == 4
    assert sum(p.principal == "producer" for p in posts) == len(cases) - 4
    assert {p.object for p in posts if p.allowed and p.principal == "producer"} >= {
        f"job:good:job_{i}" for i in range(30)
    }


@pytest.mark.integration
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_intake_rides_out_its_database_connections_being_killed(
    live, make_token, maker, db_url
) -> None:
    """The intake writer keeps its connection between batches without pinging it first; when
    PostgreSQL drops it (a restart, a killed backend), the next batch goes again on a new one
    and every producer still gets its 201."""
    token = make_token("producer", "producer", "good")

    def post(event: dict) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=live.url, timeout=30) as http:
            return http.post("/api/v1/lineage", json=event, headers=headers).status_code

    assert [post(_run_event("good", f"before_{i}")) for i in range(3)] == [201] * 3
    database = db_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchone()
    assert row is not None
    assert row[0] >= 1  # the writer's connection was among them
    assert [post(_run_event("good", f"after_{i}")) for i in range(3)] == [201] * 3
    assert events_stored(maker) == 6


def test_the_intake_writer_refuses_to_start_on_a_database_it_cannot_reach() -> None:
    """The server's writer process connects before the server answers anything; a database it
    cannot reach stops the start with the reason, instead of failing the first producers."""
    with pytest.raises(RuntimeError, match="intake writer did not start: OperationalError"):
        IntakeProcess("postgresql+psycopg://postgres@127.0.0.1:1/nowhere", key=None)
