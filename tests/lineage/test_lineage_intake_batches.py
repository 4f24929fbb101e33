"""Batched intake derives exactly the graph that one event per transaction derives.

The HTTP writer commits concurrent requests together (``lineage.intake``), so the set-based
derivation (``lineage.derive``) must not depend on how events are cut into batches. Hypothesis
generates event sequences with repeated runs in any state order, duplicates, version facets,
schema hashes, inferred versions, facet merges and column lineage; the same sequence is stored
once per event and once in random batches (in two namespaces of one database), and the two
graphs must be equal row for row.
"""

from __future__ import annotations

import itertools
import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lineage import service
from lineage.db.models import (
    ColumnLineage,
    Dataset,
    DatasetVersion,
    Job,
    LineageEvent,
    Run,
    RunInput,
    RunOutput,
)
from lineage.db.session import make_engine, make_sessionmaker, session_scope
from lineage.events import DatasetRecord
from lineage.rules import schema_hash

PRODUCER = "https://github.com/skewless/skewless/tests"
RUN_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACET = {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/x.json"}
TIMES = [f"2026-11-20T10:0{i}:00+00:00" for i in range(4)]
RUN_IDS = [str(uuid.UUID(int=i + 1, version=4)) for i in range(3)]

version_facets = st.one_of(
    st.just({}),
    st.sampled_from(["v1", "v2"]).map(lambda v: {"version": {**FACET, "datasetVersion": v}}),
    st.sampled_from([["a"], ["a", "b"]]).map(
        lambda names: {"schema": {**FACET, "fields": [{"name": n} for n in names]}}
    ),
    st.just({"documentation": {**FACET, "description": "docs"}}),
)


@st.composite
def dataset(draw: st.DrawFn, output: bool) -> dict[str, Any]:
    name = draw(st.sampled_from(["ds_a", "ds_b", "ds_c"]))
    facets = dict(draw(version_facets))
    if output and draw(st.booleans()):
        source = {"namespace": "{ns}", "name": "ds_a", "field": draw(st.sampled_from("xy"))}
        if draw(st.booleans()):
            source["transformations"] = [{"type": "DIRECT"}]
        facets["columnLineage"] = {**FACET, "fields": {"out": {"inputFields": [source]}}}
    io_key = "outputFacets" if output else "inputFacets"
    io = {"extra": {**FACET, "n": draw(st.integers(0, 2))}} if draw(st.booleans()) else {}
    return {"namespace": "{ns}", "name": name, "facets": facets, io_key: io}


@st.composite
def event(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["run", "run", "run", "dataset", "job"]))
    when = draw(st.sampled_from(TIMES))
    base = {"eventTime": when, "producer": PRODUCER, "schemaURL": RUN_SCHEMA}
    job_facets = {"sql": {**FACET, "query": draw(st.sampled_from(["a", "b"]))}}
    job = {
        "namespace": "{ns}",
        "name": draw(st.sampled_from(["job_1", "job_2"])),
        "facets": job_facets if draw(st.booleans()) else {},
    }
    if kind == "dataset":
        return {**base, "dataset": draw(dataset(output=False))}
    inputs = draw(st.lists(dataset(output=False), max_size=2))
    outputs = draw(st.lists(dataset(output=True), max_size=2))
    if kind == "job":
        return {**base, "job": job, "inputs": inputs, "outputs": outputs}
    run_facets = {"nominal": {**FACET, "t": when}} if draw(st.booleans()) else {}
    return {
        **base,
        "eventType": draw(st.sampled_from(["START", "RUNNING", "COMPLETE", "FAIL", "ABORT"])),
        "run": {"runId": draw(st.sampled_from(RUN_IDS)), "facets": run_facets},
        "job": job,
        "inputs": inputs,
        "outputs": outputs,
    }


@st.composite
def sequences(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[int]]:
    events = draw(st.lists(event(), min_size=1, max_size=14))
    for _ in range(draw(st.integers(0, 3))):  # retried duplicates, anywhere later
        events.insert(draw(st.integers(0, len(events))), draw(st.sampled_from(events)))
    cuts = draw(st.lists(st.integers(1, len(events)), max_size=4, unique=True))
    return events, sorted(cuts)


def _in(namespace: str, raw: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(raw).replace("{ns}", namespace)
    out: dict[str, Any] = json.loads(text)
    if "run" in out:  # run ids are global: give each namespace its own
        out["run"]["runId"] = str(uuid.uuid5(uuid.UUID(out["run"]["runId"]), namespace))
    return out


def _graph(session: Session, namespace: str) -> dict[str, Any]:
    """Every derived row of one namespace, with ids replaced by natural keys."""
    datasets = {
        d.id: d.name for d in session.scalars(select(Dataset).where(Dataset.namespace == namespace))
    }
    versions = {
        v.id: (datasets[v.dataset_id], _label(namespace, datasets[v.dataset_id], v.version))
        for v in session.scalars(select(DatasetVersion))
        if v.dataset_id in datasets
    }
    jobs = {j.id: j for j in session.scalars(select(Job).where(Job.namespace == namespace))}
    runs = {r.run_id: r for r in session.scalars(select(Run)) if r.job_id in jobs}
    run_key = {run_id: RUN_IDS.index(_origin(run_id, namespace)) for run_id in runs}

    def plain(value: Any) -> str:
        return json.dumps(value, sort_keys=True, default=str).replace(namespace, "{ns}")

    return {
        "jobs": sorted((j.name, plain(j.facets)) for j in jobs.values()),
        "datasets": sorted(
            (d.name, plain(d.facets))
            for d in session.scalars(select(Dataset).where(Dataset.namespace == namespace))
        ),
        "versions": sorted(
            (*versions[v.id], v.version_source, plain(v.facets), plain(v.schema_fields),
             v.created_at.isoformat())
            for v in session.scalars(select(DatasetVersion))
            if v.id in versions
        ),
        "runs": sorted(
            (run_key[r.run_id], jobs[r.job_id].name, r.state, str(r.state_time),
             str(r.started_at), str(r.ended_at), plain(r.facets), plain(r.job_facets))
            for r in runs.values()
        ),
        "edges": sorted(
            (edge.__tablename__, run_key[e.run_id], datasets[e.dataset_id],
             versions[e.dataset_version_id], e.version_source)
            for edge in (RunInput, RunOutput)
            for e in session.scalars(select(edge))
            if e.run_id in runs
        ),
        "columns": sorted(
            (versions[c.dataset_version_id], c.output_field, plain(c.input_namespace),
             c.input_name, c.input_field, str(c.transformation))
            for c in session.scalars(select(ColumnLineage))
            if c.dataset_version_id in versions
        ),
        "events": session.scalar(
            select(LineageEvent.id).where(LineageEvent.received_by == namespace).limit(1)
        )
        is not None,
    }  # fmt: skip


def _label(namespace: str, name: str, version: str) -> str:
    """Name a schema-hash version by its fields (the hash itself includes the namespace)."""
    for names in ([], ["a"], ["a", "b"]):
        facets = {"schema": {"fields": [{"name": n} for n in names]}}
        if version == schema_hash(DatasetRecord(namespace, name, facets, {})):
            return f"schema{names}"
    return version


def _origin(run_id: str, namespace: str) -> str:
    return next(r for r in RUN_IDS if str(uuid.uuid5(uuid.UUID(r), namespace)) == run_id)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=sequences())
def test_batches_derive_the_same_graph_as_single_events(
    maker: sessionmaker[Session], case: tuple[list[dict[str, Any]], list[int]]
) -> None:
    events, cuts = case
    tag = uuid.uuid4().hex[:8]
    single, batched = f"single-{tag}", f"batched-{tag}"
    single_results = []
    for raw in events:
        with session_scope(maker) as s:
            single_results.append(service.ingest_event(s, _in(single, raw), received_by=single))
    batch_results = []
    bounds = [0, *cuts, len(events)]
    for start, end in itertools.pairwise(bounds):
        items = [service.Incoming.of(_in(batched, raw), batched) for raw in events[start:end]]
        with session_scope(maker) as s:
            batch_results.extend(service.ingest_events(s, items))
    assert [r.duplicate for r in batch_results] == [r.duplicate for r in single_results]
    with session_scope(maker) as s:
        assert _graph(s, batched) == _graph(s, single)


@pytest.mark.integration
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=sequences())
def test_postgresql_derives_what_sqlite_derives(
    sqlite_url: str, postgresql_url: str, case: tuple[list[dict[str, Any]], list[int]]
) -> None:
    """PostgreSQL reads and writes a batch with one statement each way, SQLite with a statement
    per table: the same events in the same batches must give the same graph on both."""
    events, cuts = case
    namespace = f"backends-{uuid.uuid4().hex[:8]}"
    graphs = []
    for url in (sqlite_url, postgresql_url):
        engine = make_engine(url)
        maker = make_sessionmaker(engine)
        try:
            for start, end in itertools.pairwise([0, *cuts, len(events)]):
                chunk = events[start:end]
                items = [service.Incoming.of(_in(namespace, raw), namespace) for raw in chunk]
                with session_scope(maker) as s:
                    service.ingest_events(s, items)
            with session_scope(maker) as s:
                graphs.append(_graph(s, namespace))
        finally:
            engine.dispose()
    assert graphs[0] == graphs[1]
