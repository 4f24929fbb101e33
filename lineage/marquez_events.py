"""The Marquez-compatible raw event list and search, filtered by the caller's grants.

Events are the stored OpenLineage events verbatim; one is listed only when the caller may read
every namespace it names. Search matches dataset and job names in the namespaces the caller may
read. The redaction rule is ``lineage.marquez.Viewer``'s; SQL is in ``lineage.db.marquez_sql``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from lineage.access import ALL_NAMESPACES, Principal
from lineage.db import marquez_sql
from lineage.db.models import LineageEvent
from lineage.errors import InvalidQuery
from lineage.facet_refs import named_namespaces
from lineage.marquez import Viewer
from lineage.queries import aware_utc


def event_namespaces(payload: dict[str, Any]) -> set[str]:
    """Every namespace a stored OpenLineage event names.

    Its job's and its datasets', and those their facets refer to: the parent run's job, column
    lineage inputs, symlinks (``lineage.facet_refs``).
    """
    found: set[str] = set()
    records = [payload.get("job"), payload.get("dataset"), payload.get("run")]
    for side in ("inputs", "outputs"):
        listed = payload.get(side)
        records += listed if isinstance(listed, list) else []
    for record in records:
        if not isinstance(record, dict):
            continue
        if isinstance(record.get("namespace"), str):
            found.add(record["namespace"])
        found |= named_namespaces(record.get("facets"))
    return found


def list_events(
    session: Session,
    principal: Principal | None,
    *,
    before: datetime | None,
    after: datetime | None,
    ascending: bool,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """Stored events by event time (newest first unless ``ascending``), filtered by grants.

    An event is listed only when the caller may read every namespace it names. A caller who
    may read any namespace is paged by the database; anyone else has the matching events
    checked one by one (the count needs them all).
    """
    viewer = Viewer(principal)
    window = {"before": aware_utc(before), "after": aware_utc(after)}
    if viewer.sees(ALL_NAMESPACES):  # every namespace, those only facets name included
        rows, total = marquez_sql.events_page(
            session, **window, ascending=ascending, limit=limit, offset=offset
        )
        return {"events": [e.payload for e in rows], "totalCount": total}
    visible = _visible_events(
        marquez_sql.events_between(session, **window, ascending=ascending), viewer
    )
    events: list[dict[str, Any]] = []
    total = 0
    for event in visible:
        if offset <= total < offset + limit:
            events.append(event.payload)
        total += 1
    return {"events": events, "totalCount": total}


def _visible_events(events: Iterator[LineageEvent], viewer: Viewer) -> Iterator[LineageEvent]:
    return (e for e in events if viewer.sees_all(event_namespaces(e.payload)))


SEARCH_KINDS = {None: ("DATASET", "JOB"), "dataset": ("DATASET",), "job": ("JOB",)}


def search(
    session: Session,
    principal: Principal | None,
    q: str,
    *,
    kind: str | None,
    sort: str,
    namespace: str | None,
    before: datetime | None,
    after: datetime | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """Datasets and jobs whose name matches ``q`` (Marquez: ``%``/``_`` patterns, any case).

    Only namespaces the caller may read are searched. ``before``/``after`` bound ``updatedAt``.
    """
    if kind not in SEARCH_KINDS:
        raise InvalidQuery(field="filter", reason="must be 'dataset' or 'job'")
    viewer = Viewer(principal)
    readable = [r.name for r in marquez_sql.namespace_rows(session) if viewer.sees(r.name)]
    if namespace is not None:
        readable = [ns for ns in readable if ns == namespace]
    rows, total = marquez_sql.search_page(
        session,
        f"%{q}%",
        kinds=SEARCH_KINDS[kind],
        namespaces=readable,
        updated_from=after,
        updated_until=before,
        by_time=sort == "updated_at",
        limit=limit,
        offset=offset,
    )
    results = [
        {
            "type": r.type,
            "name": r.name,
            "updatedAt": r.updated_at,
            "namespace": r.namespace,
            "nodeId": f"{r.type.lower()}:{r.namespace}:{r.name}",
        }
        for r in rows
    ]
    return {"totalCount": total, "results": results}
