"""``job_run_edges``: run inputs and outputs folded by job, kept by intake and filled by 0010.

The current graph walks this table instead of every run of every job; its answer must be the
one the runs themselves give (the ``asOf`` path still reads runs), however many runs a job has,
whether a run names a dataset in its first event or a later one, in one batch or many.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from lineage import service
from lineage.db.migrate import alembic_config, upgrade_head
from lineage.db.models import JobRunEdge
from lineage.db.session import make_engine, make_sessionmaker, session_scope

NS = "skewless"
META = {"_producer": "tests", "_schemaURL": "https://x/facet.json"}
LATER = datetime(2030, 1, 1, tzinfo=UTC)


def _event(
    run: int, job: str, inputs: list[str], outputs: list[str], *, kind: str = "COMPLETE"
) -> dict[str, Any]:
    def ds(name: str) -> dict[str, Any]:
        return {
            "namespace": NS,
            "name": name,
            "facets": {"version": {**META, "datasetVersion": "1"}},
        }

    return {
        "eventType": kind,
        "eventTime": f"2026-11-20T10:{run % 60:02d}:00+00:00",
        "producer": "tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.UUID(int=run)), "facets": {}},
        "job": {"namespace": NS, "name": job, "facets": {}},
        "inputs": [ds(n) for n in inputs],
        "outputs": [ds(n) for n in outputs],
    }


# A job run daily that reads a different partition each time and always writes one table; a
# run that names its second input only in its COMPLETE event; a reader of the table.
EVENTS = [
    *(_event(i, "daily", [f"part_{i % 4}"], ["table"]) for i in range(1, 13)),
    _event(20, "late", ["a"], [], kind="START"),
    _event(20, "late", ["a", "b"], ["c"]),
    _event(21, "reader", ["table", "c"], ["report"]),
]


def _stored(maker: sessionmaker[Session]) -> set[tuple[str, str, str]]:
    sql = text(
        "SELECT j.name, d.name, e.direction FROM job_run_edges e "
        "JOIN jobs j ON j.id = e.job_id JOIN datasets d ON d.id = e.dataset_id"
    )
    with session_scope(maker) as s:
        return {(job, ds, way) for job, ds, way in s.execute(sql)}


def _from_runs(maker: sessionmaker[Session]) -> set[tuple[str, str, str]]:
    """What the runs say, computed the long way: every run edge, with its run's job."""
    found = set()
    with session_scope(maker) as s:
        for table, way in (("run_inputs", "in"), ("run_outputs", "out")):
            sql = text(
                f"SELECT j.name, d.name FROM {table} e JOIN runs r ON r.run_id = e.run_id "
                "JOIN jobs j ON j.id = r.job_id JOIN datasets d ON d.id = e.dataset_id"
            )
            found |= {(job, ds, way) for job, ds in s.execute(sql)}
    return found


def _shape(graph: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["origin"], e["destination"]) for n in graph["graph"] for e in n["outEdges"]}


def test_intake_keeps_one_edge_per_job_dataset_and_direction(maker) -> None:
    for event in EVENTS[:6]:  # one batch per event, then the rest in one batch
        with session_scope(maker) as s:
            service.ingest_event(s, event)
    with session_scope(maker) as s:
        service.ingest_events(s, [service.Incoming.of(e) for e in EVENTS[6:]])
    stored = _stored(maker)
    assert stored == _from_runs(maker)
    daily = {(ds, way) for job, ds, way in stored if job == "daily"}
    assert daily == {*((f"part_{i}", "in") for i in range(4)), ("table", "out")}
    assert {(ds, way) for job, ds, way in stored if job == "late"} == {
        ("a", "in"),
        ("b", "in"),  # named only in the run's second event
        ("c", "out"),
    }
    with session_scope(maker) as s:
        assert s.scalar(select(func.count()).select_from(JobRunEdge)) == len(stored) == 11


def test_the_current_graph_is_the_one_the_runs_give(maker) -> None:
    """Current lineage (the folded edges) and lineage as of a later time (the runs) agree."""
    with session_scope(maker) as s:
        service.ingest_events(s, [service.Incoming.of(e) for e in EVENTS])
    for start in ("dataset:skewless:table", "job:skewless:daily", "dataset:skewless:b"):
        with session_scope(maker) as s:
            now = service.lineage_graph(s, start, 5, None)
            then = service.lineage_graph(s, start, 5, None, as_of=LATER)
        assert _shape(now) == _shape(then) != set()
        assert [n["id"] for n in now["graph"]] == [n["id"] for n in then["graph"]]
    with session_scope(maker) as s:
        reader = service.lineage_graph(s, "job:skewless:daily", 2, None)
    assert ("dataset:skewless:table", "job:skewless:reader") in _shape(reader)


def test_0010_fills_the_edges_of_runs_stored_before_it(fresh_url: str) -> None:
    upgrade_head(fresh_url)
    engine = make_engine(fresh_url)
    maker = make_sessionmaker(engine)
    try:
        with session_scope(maker) as s:
            service.ingest_events(s, [service.Incoming.of(e) for e in EVENTS])
        kept = _stored(maker)
        config = alembic_config(fresh_url)
        command.downgrade(config, "0009")
        command.upgrade(config, "0010")
        assert _stored(maker) == kept == _from_runs(maker)
    finally:
        engine.dispose()
