"""The lineage graph around one node (``GET /api/v1/lineage``): a bounded breadth-first traversal.

The answer has Marquez's shape. A dataset, job or model start gives current lineage (datasets and
jobs, through any run); a dataset-version or run start gives version-exact lineage through runs.
Each BFS level costs one statement (``lineage.db.graph_sql``) or, for current lineage up to the
level the node budget cuts, one recursive statement covers them all (``lineage.db.walk_sql``); the
node data costs one column select per node kind. The traversal is bounded by a depth and a node
budget. Nodes the caller may not read come back as ``{"id": "redacted:<n>", "type": "REDACTED"}``
placeholders.

Node ids and descriptions live in ``lineage.nodes``, provenance and impact in
``lineage.provenance``; the latter are re-exported here for ``lineage.service``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from lineage.access import Principal
from lineage.db import column_sql, graph_sql, walk_sql
from lineage.db import repositories as repo
from lineage.errors import InvalidQuery, NotFound
from lineage.nodes import (
    NODE_TYPES,
    Node,
    Redactor,
    dataset_data,
    dataset_id,
    job_data,
    job_id,
    resolve_visible,
    run_data,
    version_data,
    version_id,
)
from lineage.provenance import impact, provenance
from lineage.rules import run_state_wins

__all__ = ["aware_utc", "impact", "lineage_graph", "provenance"]

NodeInfo = tuple[str, str, dict[str, Any]]  # (public id, namespace, data)


def aware_utc(value: datetime | None) -> datetime | None:
    """Return ``value`` in UTC (naive means UTC).

    A time that cannot be written in UTC (year 1 at +01:00, year 9999 at -01:00) is clamped to
    the first or last representable instant: as a bound it selects exactly what it would have.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        ahead = (value.utcoffset() or timedelta(0)) > timedelta(0)
        return (datetime.min if ahead else datetime.max).replace(tzinfo=UTC)


def _by_kind(nodes: Iterable[Node]) -> dict[str, list[Any]]:
    keys: dict[str, list[Any]] = {t: [] for t in NODE_TYPES}
    for kind, key in nodes:
        keys[kind].append(key)
    return keys


def _edges_for(
    session: Session, frontier: Collection[Node], versioned: bool, as_of: datetime | None
) -> set[graph_sql.Edge]:
    keys = _by_kind(frontier)
    if versioned:
        return graph_sql.version_edges(session, keys["datasetVersion"], keys["run"], as_of)
    return graph_sql.current_edges(session, keys["dataset"], keys["job"], keys["model"], as_of)


def _levels(
    session: Session,
    start: Node,
    depth: int,
    max_nodes: int,
    versioned: bool,
    as_of: datetime | None,
) -> list[set[graph_sql.Edge]]:
    """The first levels' edges from one statement (``walk_sql``): current lineage, no ``asOf``.

    They run up to the first level the node budget cuts; ``_traverse`` queries any level after.
    """
    if versioned or as_of is not None:
        return []
    return walk_sql.current_levels(session, _by_kind([start]), depth, max_nodes)


def _traverse(
    session: Session, start: Node, depth: int, max_nodes: int, as_of: datetime | None = None
) -> tuple[set[Node], set[graph_sql.Edge], bool]:
    visited, frontier = {start}, {start}
    kept: set[graph_sql.Edge] = set()
    truncated = False
    versioned = start[0] in ("datasetVersion", "run")
    levels = iter(_levels(session, start, depth, max_nodes, versioned, as_of))
    for _ in range(depth):
        if not frontier:
            break
        found = next(levels, None)
        if found is None:
            found = _edges_for(session, frontier, versioned, as_of)
        new = {node for edge in found for node in edge} - visited
        if len(visited) + len(new) > max_nodes:
            truncated = True
            new, found = _fill_budget(found, visited, max_nodes)
        kept |= found
        visited |= new
        frontier = new
    return visited, kept, truncated


def _fill_budget(
    found: set[graph_sql.Edge], visited: set[Node], max_nodes: int
) -> tuple[set[Node], set[graph_sql.Edge]]:
    """Take new nodes until the budget is spent, and the edges whose both ends were taken.

    Edges go in a fixed order, so which nodes a full budget keeps never depends on set order.
    """
    new: set[Node] = set()
    kept: set[graph_sql.Edge] = set()
    for edge in sorted(found, key=repr):
        for node in edge:
            if node not in visited and node not in new and len(visited) + len(new) < max_nodes:
                new.add(node)
        if all(n in visited or n in new for n in edge):
            kept.add(edge)
    return new, kept


def _node_info(
    session: Session, nodes: Iterable[Node], as_of: datetime | None = None
) -> dict[Node, NodeInfo]:
    """Return (node id, namespace, data) for every node, with one query per node kind present.

    With ``as_of``, a dataset shows the schema of its newest version at that time and a run the
    state its events had reached by then.
    """
    keys = _by_kind(nodes)
    out: dict[Node, NodeInfo] = {}
    for i, ds in repo.datasets_by_ids(session, keys["dataset"]).items():
        out[("dataset", i)] = (dataset_id(ds), ds.namespace, dataset_data(ds))
    for i, job in repo.jobs_by_ids(session, keys["job"]).items():
        out[("job", i)] = (job_id(job), job.namespace, job_data(job))
    # version and run rows carry their dataset's or job's namespace and name
    for i, dv in repo.dataset_versions_by_ids(session, keys["datasetVersion"]).items():
        out[("datasetVersion", i)] = (version_id(dv, dv), dv.namespace, version_data(dv, dv))
    for rid, run in repo.runs_by_ids(session, keys["run"]).items():
        out[("run", rid)] = (f"run:{rid}", run.namespace, run_data(run, run))
    if keys["model"]:
        for i, (mv, m) in repo.model_versions_by_ids(session, keys["model"]).items():
            data = {
                "name": m.name,
                "version": mv.version,
                "trainingSetVersion": mv.training_set_version,
                "metrics": mv.metrics,
            }
            out[("model", i)] = (f"model:{m.name}:{mv.version}", m.namespace, data)
    if as_of is not None:
        _rewind(session, out, keys, as_of)
    return out


def _rewind(
    session: Session, out: dict[Node, NodeInfo], keys: dict[str, list[Any]], as_of: datetime
) -> None:
    """Replace current dataset schemas and run states by those known at ``as_of``."""
    for ds_id, schema in graph_sql.schemas_until(session, keys["dataset"], as_of).items():
        ds_node: Node = ("dataset", ds_id)
        if ds_node in out:
            out[ds_node][2]["fields"] = schema.get("fields", [])
    states: dict[str, tuple[str, datetime]] = {}
    for run_id, event_type, when in graph_sql.run_events_until(session, keys["run"], as_of):
        old = states.get(run_id)
        if old is None or run_state_wins(event_type, when, *old):
            states[run_id] = (event_type, when)
    for run_id, (state, _) in states.items():
        run_node: Node = ("run", run_id)
        if run_node in out:
            data = out[run_node][2]
            data["state"] = state
            for key in ("startedAt", "endedAt"):
                if data[key] is not None and datetime.fromisoformat(data[key]) > as_of:
                    data[key] = None


def _graph(
    info: dict[Node, NodeInfo], edges: Iterable[graph_sql.Edge], red: Redactor
) -> list[dict[str, Any]]:
    """Lay out nodes sorted by id, each with its in- and out-edges sorted, redacted by grants."""
    public = {n: (i[0] if red.visible(i[1]) else red.placeholder(i[0])) for n, i in info.items()}
    into: dict[str, list[dict[str, str]]] = defaultdict(list)
    out_of: dict[str, list[dict[str, str]]] = defaultdict(list)
    links = [{"origin": public[a], "destination": public[b]} for a, b in edges]
    # One sort of all links leaves every node's share of them sorted too.
    for link in sorted(links, key=repr):
        into[link["destination"]].append(link)
        out_of[link["origin"]].append(link)
    graph = []
    for node in sorted(info, key=lambda n: info[n][0]):
        _, ns, data = info[node]
        visible = red.visible(ns)
        graph.append(
            {
                "id": public[node],
                "type": NODE_TYPES[node[0]] if visible else "REDACTED",
                "data": data if visible else None,
                "inEdges": into[public[node]],
                "outEdges": out_of[public[node]],
            }
        )
    return graph


def lineage_graph(
    session: Session,
    node_id: str,
    depth: int,
    principal: Principal | None,
    *,
    max_depth: int = 20,
    max_nodes: int = 500,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """Return the lineage neighbourhood of a node in Marquez's ``{"graph": [...]}`` shape.

    Args:
        session: An open session.
        node_id: The start node; dataset/job/model starts give current lineage, datasetVersion
            and run starts give version-exact lineage through runs.
        depth: Number of hops (0 .. ``max_depth``).
        principal: The caller; None means unrestricted (in-process use).
        max_depth: Upper bound for ``depth``.
        max_nodes: Node budget; the answer carries ``truncated`` when it was hit.
        as_of: Only what events at or before this time recorded (versions, runs, edges) counts;
            naive times are UTC. A start node that did not exist yet is not found.

    Returns:
        ``{"graph": [{"id","type","data","inEdges","outEdges"}], "truncated": bool}``.

    Raises:
        InvalidQuery; NotFound, also (as ``NotVisible``, worded alike) for a start node
        outside the caller's grants.

    """
    if depth < 0 or depth > max_depth:
        raise InvalidQuery(field="depth", reason=f"must be between 0 and {max_depth}")
    as_of = aware_utc(as_of)
    red = Redactor(principal)
    # Visibility before ``asOf``: a hidden node must read like an unknown id, not as "not yet".
    start = resolve_visible(session, node_id, red)
    if as_of is not None and not graph_sql.node_seen_by(session, start[0], start[1], as_of):
        raise NotFound(kind="node", key=f"{node_id} as of {as_of.isoformat()}")
    nodes, edges, truncated = _traverse(session, start, depth, max_nodes, as_of)
    info = _node_info(session, nodes, as_of)
    if as_of is None:
        _add_column_lineage(session, info, red)
    return {"graph": _graph(info, edges, red), "truncated": truncated}


def _add_column_lineage(session: Session, info: dict[Node, NodeInfo], red: Redactor) -> None:
    """Each dataset's column lineage (its newest version declaring one), inputs it may read.

    ``columnLineage``: ``[{"field", "inputFields": [{"namespace", "name", "field",
    "transformation"}]}]``; input fields in namespaces outside the caller's grants are left out.
    """
    datasets = {
        (i[2]["namespace"], i[2]["name"]): i[2] for n, i in info.items() if n[0] == "dataset"
    }
    for data in datasets.values():
        data["columnLineage"] = []
    ids = [n[1] for n in info if n[0] == "dataset"]
    fields: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for ns, name, out, in_ns, in_name, in_field, how in column_sql.column_edges_into(session, ids):
        if red.visible(in_ns):
            fields[(ns, name, out)].append(
                {"namespace": in_ns, "name": in_name, "field": in_field, "transformation": how}
            )
    for (ns, name, out), inputs in sorted(fields.items()):
        datasets[(ns, name)]["columnLineage"].append({"field": out, "inputFields": inputs})
