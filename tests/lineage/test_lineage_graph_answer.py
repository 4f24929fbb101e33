"""The graph answer pinned node by node, on SQLite (level by level) and PostgreSQL (one statement).

The graph branches (a dataset read by two jobs, a job reading two datasets), has a parent run
(``ParentRunFacet``), a job in a namespace the caller may not read, and is cut both by depth and
by the node budget in the middle of a level: the answers must not depend on the engine or on
how the traversal is computed.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from lineage import service
from lineage.access import Principal
from lineage.db.session import session_scope

NS, HIDDEN = "skewless", "finance"
META = {"_producer": "tests", "_schemaURL": "https://x/facet.json"}


def _ds(name: str, namespace: str = NS) -> dict[str, Any]:
    return {
        "namespace": namespace,
        "name": name,
        "facets": {"version": {**META, "datasetVersion": "v1"}},
    }


def _run(
    i: int, job: str, inputs: list[str], outputs: list[str], *, namespace: str = NS, parent: int = 0
) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if parent:
        facets["parent"] = {
            **META,
            "run": {"runId": str(uuid.UUID(int=parent))},
            "job": {"namespace": NS, "name": "a"},
        }
    return {
        "eventType": "COMPLETE",
        "eventTime": f"2026-11-20T10:{i:02d}:00+00:00",
        "producer": "tests",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.UUID(int=i)), "facets": facets},
        "job": {"namespace": namespace, "name": job, "facets": {}},
        "inputs": [_ds(n) for n in inputs],
        "outputs": [_ds(n, namespace) for n in outputs],
    }


def _load(maker: sessionmaker[Session]) -> None:
    """raw -> a -> x -> b -> y -> c -> z; raw -> h (finance) -> w; x, w -> d -> v; e child of a."""
    events = [
        _run(1, "a", ["raw"], ["x"]),
        _run(2, "b", ["x"], ["y"]),
        _run(3, "c", ["y"], ["z"]),
        _run(4, "h", ["raw"], ["w"], namespace=HIDDEN),
        _run(5, "d", ["x", "w"], ["v"]),
        _run(6, "e", [], ["u"], parent=1),
    ]
    with session_scope(maker) as s:
        for event in events:
            service.ingest_event(s, event)


def _shape(answer: dict[str, Any]) -> tuple[list[tuple[str, str, list[str], list[str]]], bool]:
    nodes = [
        (
            n["id"],
            n["type"],
            [e["origin"] for e in n["inEdges"]],
            [e["destination"] for e in n["outEdges"]],
        )
        for n in answer["graph"]
    ]
    return nodes, answer["truncated"]


def test_graph_answer_with_branches_parents_redaction_and_cuts(maker) -> None:
    _load(maker)
    consumer = Principal("c", "consumer", frozenset({NS}))
    with session_scope(maker) as s:
        deep = service.lineage_graph(s, "dataset:skewless:x", 3, consumer)
        cut = service.lineage_graph(s, "dataset:skewless:x", 10, consumer, max_nodes=6)
    d = "dataset:skewless:"
    j = "job:skewless:"
    assert _shape(deep) == (
        [
            (d + "raw", "DATASET", [], [j + "a", "redacted:1"]),
            (d + "u", "DATASET", [j + "e"], []),
            (d + "v", "DATASET", [j + "d"], []),
            (d + "w", "DATASET", [], [j + "d"]),
            (d + "x", "DATASET", [j + "a"], [j + "b", j + "d"]),
            (d + "y", "DATASET", [j + "b"], [j + "c"]),
            # job:finance:h, in its place by its real id; z is four hops away
            ("redacted:1", "REDACTED", [d + "raw"], []),
            (j + "a", "JOB", [d + "raw"], [d + "x", j + "e"]),
            (j + "b", "JOB", [d + "x"], [d + "y"]),
            (j + "c", "JOB", [d + "y"], []),
            (j + "d", "JOB", [d + "w", d + "x"], [d + "v"]),
            (j + "e", "JOB", [j + "a"], [d + "u"]),
        ],
        False,
    )
    assert all(n["data"] is None for n in deep["graph"] if n["type"] == "REDACTED")
    # Level 2 (raw, w, y, v, e) overflows the budget of 6: the first edges in order take raw and
    # w; level 3 adds only edges between nodes already taken.
    assert _shape(cut) == (
        [
            (d + "raw", "DATASET", [], [j + "a"]),
            (d + "w", "DATASET", [], [j + "d"]),
            (d + "x", "DATASET", [j + "a"], [j + "b", j + "d"]),
            (j + "a", "JOB", [d + "raw"], [d + "x"]),
            (j + "b", "JOB", [d + "x"], []),
            (j + "d", "JOB", [d + "w", d + "x"], []),
        ],
        True,
    )
