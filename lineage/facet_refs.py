"""The namespaces stored facets name, and those facets with what a caller may not read taken out.

A facet is the producer's JSON, answered as stored, but three standard ones point at other
datasets and jobs: a run's ``parent`` (its parent run and job, and their ``root``), a dataset's
``columnLineage`` (the input fields each field comes from) and ``symlinks`` (its other names).
A caller who may not read a namespace must not learn about its objects through them, any more
than through the graph (which draws them redacted) or a 404. ``named_namespaces`` says which
namespaces a facet set refers to (an event is listed only if all are readable);
``visible_facets`` drops a parent reference and filters the input and symlink lists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Sees = Callable[[str], bool]


def _namespace(record: Any) -> str | None:
    if isinstance(record, dict) and isinstance(record.get("namespace"), str):
        return str(record["namespace"])
    return None


def _parent_jobs(facet: Any) -> list[Any]:
    """The job records of a ``parent`` facet: its own and its ``root``'s."""
    if not isinstance(facet, dict):
        return []
    root = facet.get("root")
    return [facet.get("job"), root.get("job") if isinstance(root, dict) else None]


def _column_inputs(facet: Any) -> list[Any]:
    """Every input record of a ``columnLineage`` facet (per field, and dataset-wide)."""
    if not isinstance(facet, dict):
        return []
    found: list[Any] = []
    fields = facet.get("fields")
    for entry in fields.values() if isinstance(fields, dict) else ():
        inputs = entry.get("inputFields") if isinstance(entry, dict) else None
        found += inputs if isinstance(inputs, list) else []
    dataset_wide = facet.get("dataset")
    found += dataset_wide if isinstance(dataset_wide, list) else []
    return found


def _symlinks(facet: Any) -> list[Any]:
    identifiers = facet.get("identifiers") if isinstance(facet, dict) else None
    return identifiers if isinstance(identifiers, list) else []


def named_namespaces(facets: Any) -> set[str]:
    """The namespaces the ``parent``, ``columnLineage`` and ``symlinks`` facets refer to."""
    if not isinstance(facets, dict):
        return set()
    records = (
        _parent_jobs(facets.get("parent"))
        + _column_inputs(facets.get("columnLineage"))
        + _symlinks(facets.get("symlinks"))
    )
    return {ns for ns in map(_namespace, records) if ns is not None}


def _readable(records: list[Any], sees: Sees) -> list[Any]:
    return [r for r in records if (ns := _namespace(r)) is None or sees(ns)]


def visible_facets(facets: dict[str, Any], sees: Sees) -> dict[str, Any]:
    """``facets`` with every reference to a namespace ``sees`` refuses taken out.

    A hidden parent drops the ``parent`` facet (a hidden root only its ``root``); column
    lineage keeps its readable inputs; symlinks keep their readable names. Facets that name
    nothing hidden come back as the same object.
    """
    hidden = {ns for ns in named_namespaces(facets) if not sees(ns)}
    if not hidden:
        return facets
    out = dict(facets)
    parent = out.get("parent")
    if isinstance(parent, dict):
        own, root = _parent_jobs(parent)
        if _namespace(own) in hidden:
            del out["parent"]
        elif _namespace(root) in hidden:
            out["parent"] = {k: v for k, v in parent.items() if k != "root"}
    columns = out.get("columnLineage")
    if isinstance(columns, dict):
        out["columnLineage"] = _visible_columns(columns, sees)
    links = out.get("symlinks")
    if isinstance(links, dict) and isinstance(links.get("identifiers"), list):
        out["symlinks"] = {**links, "identifiers": _readable(links["identifiers"], sees)}
    return out


def _visible_columns(facet: dict[str, Any], sees: Sees) -> dict[str, Any]:
    out = dict(facet)
    fields = facet.get("fields")
    if isinstance(fields, dict):
        out["fields"] = {
            name: (
                {**entry, "inputFields": _readable(entry["inputFields"], sees)}
                if isinstance(entry, dict) and isinstance(entry.get("inputFields"), list)
                else entry
            )
            for name, entry in fields.items()
        }
    if isinstance(facet.get("dataset"), list):
        out["dataset"] = _readable(facet["dataset"], sees)
    return out
