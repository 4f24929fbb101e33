"""Who uses and who read what: feature-view usage, feature-view reads, and a node's history.

- ``usage``: the model versions whose training sets read any version of a feature view, the
  deployments serving it online (through a feature service that selects it), and the
  view's fields no such model uses (from column lineage where a training set declares it; a
  training set without column lineage reads the whole view).
- ``reads``: the runs that read a feature view (training sets, materializations) and the audit
  entries of feature reads addressed to it (``feature_view/<view>``, written by the feature server
  through ``lineage.access.ReadAuditor``).
- ``history``: versions of a dataset, runs of a job, events of a run or touching a dataset version,
  versions of a model; newest first and paginated.

Every answer is checked against the caller's grants; whatever else it lists from a namespace the
caller may not read (models, training sets, run events) comes back as a redacted placeholder
(``lineage.nodes.Redactor``), as in the graph traversal.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from lineage.access import Principal
from lineage.audit import list_audit
from lineage.db import history_sql
from lineage.db import repositories as repo
from lineage.db.models import LineageEvent
from lineage.errors import Forbidden, InvalidQuery, NotFound
from lineage.identity import NAMESPACE, feature_view_dataset
from lineage.nodes import (
    NODE_TYPES,
    Redactor,
    deployment_data,
    resolve_visible,
    run_data,
    version_data,
)

MAX_OFFSET = 2**31 - 1


def check_page(limit: int, offset: int, page_size_max: int) -> None:
    """Raise ``InvalidQuery`` unless ``1 <= limit <= page_size_max`` and ``0 <= offset``.

    Raises:
        InvalidQuery: naming ``limit`` or ``offset``.

    """
    if not 1 <= limit <= page_size_max:
        raise InvalidQuery(field="limit", reason=f"must be between 1 and {page_size_max}")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidQuery(field="offset", reason=f"must be between 0 and {MAX_OFFSET}")


def _view_dataset_name(view: str) -> str:
    try:
        return feature_view_dataset(view)
    except ValueError as exc:
        raise InvalidQuery(field="view", reason=str(exc)) from None


def _view_fields(session: Session, dataset_id: int, facets: dict[str, Any]) -> list[str]:
    """Field names of the view's newest version that declares a schema."""
    for dv in history_sql.recent_versions(session, dataset_id):
        fields = dv.schema_fields.get("fields") or []
        if fields:
            return [str(f.get("name")) for f in fields if isinstance(f, dict)]
    fields = (facets.get("schema") or {}).get("fields") or []
    return [str(f.get("name")) for f in fields if isinstance(f, dict)]


def usage(
    session: Session,
    view: str,
    *,
    principal: Principal | None = None,
    namespace: str = NAMESPACE,
) -> dict[str, Any]:
    """Answer "which model versions consume feature view ``view``, and which fields none uses?".

    Args:
        session: An open session.
        view: The feature view name.
        principal: The caller; None means unrestricted (in-process use).
        namespace: The view's namespace.

    Returns:
        ``{"view", "namespace", "fields", "modelVersions": [{name, version, trainingSetVersion,
        viewVersions, usedFields}], "deployments": [{model, version, environment, featureService,
        deployedAt}], "trainingSets": [...], "unusedFields"}``; a model version outside the
        caller's grants is redacted (its fields still count as used). ``deployments`` are those
        serving online from a feature service whose current definition selects the view.

    Raises:
        InvalidQuery: a malformed view name. NotFound: an unknown view, or (``NotVisible``,
            worded alike) any view of a namespace outside the caller's grants.

    """
    name = _view_dataset_name(view)
    red = Redactor(principal)
    # Checked first: outside the grants, every view name reads as missing, known or not.
    red.require(namespace, kind="feature_view", key=f"{namespace}:{name}")
    dataset = history_sql.find_dataset(session, namespace, name)
    if dataset is None:
        raise NotFound(kind="feature_view", key=f"{namespace}:{name}")
    fields = _view_fields(session, dataset.id, dataset.facets)
    reads = history_sql.training_sets_reading(session, dataset.id)
    declared = history_sql.column_inputs(session, [ts.id for ts, _, _ in reads], namespace, name)
    by_ts: dict[int, tuple[set[str], set[str]]] = {}  # ts version id -> (view versions, fields)
    for ts, _, read in reads:
        versions, used = by_ts.setdefault(ts.id, (set(), set()))
        versions.add(read.version)
        used |= declared.get(ts.id, set(fields))
    out_m: list[dict[str, Any]] = []
    used_by_models: set[str] = set()
    for mv, model in repo.model_versions_trained_on(session, by_ts):
        if mv.training_set_version_id is None:
            raise RuntimeError(f"model version {mv.id} was selected by a null training set")
        versions, used = by_ts[mv.training_set_version_id]
        used_by_models |= used  # a hidden model's fields still count as used
        if not red.visible(model.namespace):
            out_m.append(red.redacted(f"model:{model.name}:{mv.version}"))
            continue
        out_m.append(
            {
                "name": model.name,
                "version": mv.version,
                "trainingSetVersion": mv.training_set_version,
                "viewVersions": sorted(versions),
                "usedFields": sorted(used),
            }
        )
    training = sorted({(ds.namespace, ds.name, ts.version) for ts, ds, _ in reads})
    served = [
        {**deployment_data(dep, mv, model), "deployedAt": dep.deployed_at.isoformat()}
        if red.visible(model.namespace)
        else red.redacted(f"model:{model.name}:{mv.version}")
        for dep, mv, model, _ in history_sql.deployments_serving(session, dataset.id)
    ]
    return {
        "view": view,
        "namespace": namespace,
        "fields": fields,
        "modelVersions": out_m,
        "deployments": served,
        "trainingSets": [
            {"namespace": ns, "name": n, "version": v}
            if red.visible(ns)
            else red.redacted(f"datasetVersion:{ns}:{n}#{v}")
            for ns, n, v in training
        ],
        "unusedFields": [f for f in fields if f not in used_by_models],
    }


def reads(
    session: Session,
    view: str,
    *,
    principal: Principal | None = None,
    namespace: str = NAMESPACE,
    limit: int = 100,
    offset: int = 0,
    page_size_max: int = 500,
) -> dict[str, Any]:
    """Answer "who read feature view ``view``, and when?" (auditors and admins).

    Args:
        session: An open session.
        view: The feature view name.
        principal: The caller; must hold the ``audit`` right (None: in-process, unrestricted).
        namespace: The view's namespace.
        limit: Page size for both lists (at most ``page_size_max``).
        offset: Entries to skip in both lists.
        page_size_max: The page bound.

    Returns:
        ``{"view", "namespace", "runs": [{runId, job, state, startedAt, endedAt, version}],
        "runsTotal", "accesses": [audit entries], "limit", "offset"}``, newest first.

    Raises:
        InvalidQuery: a malformed view or page. Forbidden: the caller may not audit.
        NotFound: lineage knows no such view and no read of it was audited.

    """
    from lineage.access import authorize

    name = _view_dataset_name(view)
    check_page(limit, offset, page_size_max)
    if principal is not None and not authorize(principal, "audit", "*"):
        raise Forbidden(principal=principal.name, action="audit", namespace="*")
    dataset = history_sql.find_dataset(session, namespace, name)
    runs: list[dict[str, Any]] = []
    total = 0
    if dataset is not None:
        rows, total = history_sql.runs_reading(session, dataset.id, limit=limit, offset=offset)
        runs = [{**run_data(run, job), "version": dv.version} for run, job, dv in rows]
    # The feature server serves only Skewless's own views and audits them as ``feature_view/<v>``:
    # a same-named view of another namespace has no feature reads.
    entries = (
        list_audit(session, obj=name, limit=limit, offset=offset) if namespace == NAMESPACE else []
    )
    if (
        dataset is None
        and not entries
        and not (namespace == NAMESPACE and list_audit(session, obj=name, limit=1))
    ):  # a typo read as "nobody read it"; usage answers the same name 404 too
        raise NotFound(kind="feature_view", key=f"{namespace}:{name}")
    return {
        "view": view,
        "namespace": namespace,
        "runs": runs,
        "runsTotal": total,
        "accesses": [asdict(e) for e in entries],
        "limit": limit,
        "offset": offset,
    }


def _event_data(event: LineageEvent) -> dict[str, Any]:
    return {
        "eventHash": event.event_hash,
        "kind": event.event_kind,
        "eventType": event.event_type,
        "eventTime": event.event_time.isoformat(),
        "runId": event.run_id,
        "receivedAt": event.received_at.isoformat(),
        "receivedBy": event.received_by,
    }


def history(
    session: Session,
    node_id: str,
    *,
    principal: Principal | None = None,
    limit: int = 100,
    offset: int = 0,
    page_size_max: int = 500,
) -> dict[str, Any]:
    """Return the history of a node, newest first, one page at a time.

    A dataset lists its versions, a job its runs, a run its events, a dataset version the events
    of the runs that read or wrote it, and a model (``model:name:version`` of any version) the
    versions of that model. An event of a run in a namespace the caller may not read (a dataset
    version is read and written by jobs of any namespace) is a redacted placeholder.

    Returns:
        ``{"nodeId", "type", "items", "total", "limit", "offset"}``.

    Raises:
        InvalidQuery; NotFound, also (as ``NotVisible``, worded alike) for a node outside the
        caller's grants.

    """
    check_page(limit, offset, page_size_max)
    red = Redactor(principal)
    kind, key = resolve_visible(session, node_id, red)
    page = {"limit": limit, "offset": offset}
    items: list[dict[str, Any]]
    if kind == "dataset":
        ds = repo.datasets_by_ids(session, [key])[key]
        dvs, total = history_sql.versions_of_dataset(session, key, **page)
        items = [version_data(dv, ds) for dv in dvs]
    elif kind == "job":
        job = repo.jobs_by_ids(session, [key])[key]
        runs, total = history_sql.runs_of_job(session, key, **page)
        items = [run_data(run, job) for run in runs]
    elif kind in ("run", "datasetVersion"):
        run_ids: Any = [key] if kind == "run" else history_sql.runs_touching_version(key)
        events, total = history_sql.events_of_runs(session, run_ids, **page)
        items = [
            _event_data(e)
            if red.principal is None or (ns is not None and red.visible(ns))
            else red.redacted(f"event:{e.event_hash}")
            for e, ns in events
        ]
    else:
        _, model = repo.model_versions_by_ids(session, [key])[key]
        mvs, total = history_sql.versions_of_model(session, model.id, **page)
        items = [
            {
                "name": model.name,
                "version": m.version,
                "trainingSetVersion": m.training_set_version,
                "metrics": m.metrics,
                "createdAt": m.created_at.isoformat(),
            }
            for m in mvs
        ]
    return {"nodeId": node_id, "type": NODE_TYPES[kind], "items": items, "total": total, **page}
