"""Marquez-compatible column lineage (``GET /api/v1/column-lineage``) from our column_lineage table.

A start node is a dataset (``dataset:ns:name``: all its fields), a field
(``datasetField:ns:name:field``) or a job (``job:ns:name``: the fields of the datasets it wrote).
From there the walk follows each output dataset's current column lineage (what its newest version
declaring one says) upstream, and downstream too with ``withDownstream``, for ``depth`` hops, one
query per hop. Fields in namespaces the caller may not read are left out and never walked
through; a hidden start reads as not found. Version-exact column lineage (``...#version``) is not
served yet: such an id is refused with the reason.

Edges keep Marquez's convention for this answer: each edge's ``origin`` is the node that lists it
(an in-edge points from a field to its input, an out-edge from a field to its output).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from lineage.access import Principal
from lineage.db import column_sql, marquez_sql
from lineage.db.column_sql import ColumnEdge
from lineage.db.models import Dataset, Job
from lineage.errors import InvalidQuery, NotFound
from lineage.marquez import Viewer, text_of
from lineage.marquez_datasets import schema_fields

Field = tuple[str, str, str]  # (namespace, dataset, field)
KINDS = ("dataset", "datasetField", "job")


def _prefixes(text: str) -> list[str]:
    """``text`` cut before each ``:``, longest first: the candidate ``namespace:name`` parts."""
    return [text[:i] for i in range(len(text) - 1, 0, -1) if text[i] == ":"]


def _resolve(session: Session, node_id: str) -> tuple[str, tuple[str, str], str | None]:
    """(kind, (namespace, name), field) of a node id; ``NotFound`` for an unknown node."""
    kind, sep, rest = node_id.partition(":")
    if not sep or kind not in KINDS or ":" not in rest:
        raise InvalidQuery(field="nodeId", reason=f"must be {' | '.join(KINDS)}:<namespace>:...")
    model: type[Dataset] | type[Job] = Job if kind == "job" else Dataset
    if kind == "datasetField":
        candidates = {p: rest[len(p) + 1 :] for p in _prefixes(rest)}
        found = marquez_sql.find_qualified(session, model, list(candidates))
        for prefix, field in candidates.items():  # the longest dataset id wins
            for pair in found:
                if f"{pair[0]}:{pair[1]}" == prefix and field:
                    return kind, pair, field
    else:
        found = marquez_sql.find_qualified(session, model, [rest])
        if found:
            return kind, found[0], None
    if "#" in rest:
        reason = "dataset versions (#version) are not served by column lineage yet"
        raise InvalidQuery(field="nodeId", reason=reason)
    raise NotFound(kind="node", key=node_id)


def _node_id(field: Field) -> str:
    return f"datasetField:{field[0]}:{field[1]}:{field[2]}"


def _start(
    session: Session, kind: str, pair: tuple[str, str], field: str | None
) -> tuple[set[Field], list[ColumnEdge]]:
    """The start fields, and the edges into the datasets they belong to (the first hop)."""
    if kind == "job":
        job = marquez_sql.find_job(session, *pair)
        if job is None:
            return set(), []
        datasets = set(marquez_sql.job_datasets(session, [job.id])[job.id][1])
    else:
        datasets = {pair}
    edges = column_sql.current_column_edges(session, outputs=datasets)
    fields = {(e[0], e[1], e[2]) for e in edges}
    for (ns, name), ds in marquez_sql.datasets_named(session, datasets).items():
        fields |= {(ns, name, f) for f in _schema_names(ds.facets)}
    if field is not None:
        fields = {f for f in fields if f[2] == field}
    return fields, edges


def _schema_names(facets: dict[str, Any]) -> set[str]:
    return {str(f["name"]) for f in schema_fields(facets)}


def _walk(
    session: Session,
    start: set[Field],
    first: list[ColumnEdge],
    bounds: tuple[int, int],
    downstream: bool,
    viewer: Viewer,
) -> tuple[set[Field], set[ColumnEdge]]:
    """Walk ``bounds`` = (depth, node budget) from ``start``; edges taken in a fixed order."""
    depth, max_nodes = bounds
    visited, frontier = set(start), set(start)
    kept: set[ColumnEdge] = set()
    upstream_edges: list[ColumnEdge] | None = first
    for _ in range(depth):
        if not frontier:
            break
        datasets = {(f[0], f[1]) for f in frontier}
        if upstream_edges is None:
            upstream_edges = column_sql.current_column_edges(session, outputs=datasets)
        found = [e for e in upstream_edges if (e[0], e[1], e[2]) in frontier]
        if downstream:
            below = column_sql.current_column_edges(session, inputs=datasets)
            found += [e for e in below if (e[3], e[4], e[5]) in frontier]
        upstream_edges = None
        reached: set[Field] = set()
        visible = {e for e in found if viewer.sees(e[0]) and viewer.sees(e[3])}
        for edge in sorted(visible, key=lambda e: e[:6]):
            ends = {(edge[0], edge[1], edge[2]), (edge[3], edge[4], edge[5])}
            if len(visited | reached | ends) > max_nodes:
                return visited | reached, kept
            kept.add(edge)
            reached |= ends
        frontier = reached - visited
        visited |= reached
    return visited, kept


def column_lineage(
    session: Session,
    node_id: str,
    depth: int,
    principal: Principal | None,
    *,
    with_downstream: bool,
    max_nodes: int,
) -> dict[str, Any]:
    """The column lineage graph around a node, in Marquez's ``{"graph": [...]}`` shape.

    Args:
        session: An open session.
        node_id: ``dataset:ns:name``, ``datasetField:ns:name:field`` or ``job:ns:name``.
        depth: Hops to walk (the caller bounds it).
        principal: The caller; None means unrestricted (in-process use).
        with_downstream: Walk to the fields derived from these too.
        max_nodes: Field budget: the walk stops before it would hold more.

    Returns:
        ``{"graph": [{"id", "type": "DATASET_FIELD", "data", "inEdges", "outEdges"}]}``.

    Raises:
        InvalidQuery: a malformed or versioned id. NotFound: an unknown or hidden node, or one
            without fields.

    """
    kind, pair, field = _resolve(session, node_id)
    viewer = Viewer(principal)
    viewer.check(pair[0], "node", node_id)
    start, first = _start(session, kind, pair, field)
    if not start:
        raise NotFound(kind="node", key=node_id)
    fields, edges = _walk(session, start, first, (depth, max_nodes), with_downstream, viewer)
    return {"graph": _graph(session, fields, edges)}


def _graph(session: Session, fields: set[Field], edges: set[ColumnEdge]) -> list[dict[str, Any]]:
    datasets = marquez_sql.datasets_named(session, {(f[0], f[1]) for f in fields})
    current = marquez_sql.current_versions(session, [ds.id for ds in datasets.values()])
    types: dict[Field, Any] = {}
    versions: dict[tuple[str, str], str | None] = {}
    for pair, ds in datasets.items():
        dv = current.get(ds.id)
        versions[pair] = None if dv is None else dv.version
        for item in schema_fields(ds.facets):
            types[(pair[0], pair[1], str(item["name"]))] = text_of(item.get("type"))
    inputs: dict[Field, list[ColumnEdge]] = defaultdict(list)
    outputs: dict[Field, list[ColumnEdge]] = defaultdict(list)
    for edge in sorted(edges, key=lambda e: tuple(str(x) for x in e)):
        inputs[(edge[0], edge[1], edge[2])].append(edge)
        outputs[(edge[3], edge[4], edge[5])].append(edge)
    return [_node(f, inputs[f], outputs[f], versions, types) for f in sorted(fields)]


def _node(
    f: Field,
    into: list[ColumnEdge],
    out_of: list[ColumnEdge],
    versions: dict[tuple[str, str], str | None],
    types: dict[Field, Any],
) -> dict[str, Any]:
    """One ``DATASET_FIELD`` node: its data, and its edges with itself as their origin."""
    me = _node_id(f)
    data = {
        "namespace": f[0],
        "dataset": f[1],
        "datasetVersion": versions.get((f[0], f[1])),
        "field": f[2],
        "fieldType": types.get(f),
        "transformationDescription": None,
        "transformationType": into[0][6] if into else None,
        "inputFields": [
            {
                "namespace": e[3],
                "dataset": e[4],
                "datasetVersion": None,
                "field": e[5],
                "transformationDescription": None,
                "transformationType": e[6],
            }
            for e in into
        ],
    }
    return {
        "id": me,
        "type": "DATASET_FIELD",
        "data": data,
        "inEdges": [{"origin": me, "destination": _node_id((e[3], e[4], e[5]))} for e in into],
        "outEdges": [{"origin": me, "destination": _node_id((e[0], e[1], e[2]))} for e in out_of],
    }
