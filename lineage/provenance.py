"""Provenance and impact: breadth-first walks over exact dataset versions through runs.

``provenance`` walks upstream from a model version's training set (what exactly trained it);
``impact`` walks downstream from one dataset version (what it feeds, up to models and their
deployments). Each walk is one recursive statement on PostgreSQL (one set-based query per level on
SQLite) and is bounded by a depth and a node budget; objects outside the caller's grants come back
as placeholders.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy.orm import Session

from lineage.access import Principal
from lineage.db import history_sql, walk_sql
from lineage.db import repositories as repo
from lineage.errors import NotFound
from lineage.identity import FEATURE_VIEW_PREFIX, ONLINE_PREFIX, TRAINING_SET_PREFIX
from lineage.nodes import Redactor, deployment_data, run_data, version_data, version_id


def _walk_versions(
    session: Session, start: Collection[int], upstream: bool, max_depth: int, max_nodes: int
) -> tuple[set[int], set[str], bool]:
    """BFS over dataset versions through runs, upstream (provenance) or downstream (impact).

    Each level's runs and next versions come from ``walk_sql.version_levels`` (the whole walk in
    one statement on PostgreSQL) and, for any level it did not return, from one query each.
    """
    levels = iter(
        walk_sql.version_levels(
            session, start, upstream=upstream, max_depth=max_depth, max_nodes=max_nodes
        )
    )
    versions, frontier = set(start), set(start)
    runs: set[str] = set()
    for _ in range(max_depth):
        if not frontier:
            return versions, runs, False
        level = next(levels, None)
        new_runs, nxt = level or repo.version_step(session, frontier, upstream=upstream)
        runs |= new_runs
        frontier = nxt - versions
        versions |= frontier
        if len(versions) + len(runs) > max_nodes:
            return versions, runs, True
    return versions, runs, bool(frontier)


def _describe(
    session: Session,
    versions: Collection[int],
    runs: Collection[str],
    red: Redactor,
    rows: dict[int, Any] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Describe versions and runs, redacting those outside the caller's grants.

    Version and run rows carry their dataset's or job's namespace and name, so each row describes
    both sides. ``rows``: the versions' rows when the caller has already read them.
    """
    if rows is None:
        dvs = repo.dataset_versions_by_ids(session, versions)
    else:
        dvs = {i: rows[i] for i in versions if i in rows}
    out_v = [
        version_data(dv, dv) if red.visible(dv.namespace) else red.redacted(version_id(dv, dv))
        for dv in sorted(dvs.values(), key=lambda r: (r.namespace, r.name, r.version))
    ]
    rs = repo.runs_by_ids(session, runs)
    out_r = [
        run_data(run, run) if red.visible(run.namespace) else red.redacted(f"run:{run.run_id}")
        for run in sorted(rs.values(), key=lambda r: (r.name, r.run_id))
    ]
    return out_v, out_r


def provenance(
    session: Session,
    model: str,
    version: str,
    *,
    principal: Principal | None = None,
    max_depth: int = 20,
    max_nodes: int = 500,
) -> dict[str, Any]:
    """Answer "what exactly trained model ``model`` at ``version``?".

    Returns:
        The model version and metrics, its training-set version, every upstream dataset version
        (exact, not "latest") and the runs that produced them with their code versions.

    Raises:
        NotFound: the model version is unknown, or (``NotVisible``, worded alike) its model is
            outside the caller's grants.

    """
    mv = repo.find_model_version(session, model, version)
    if mv is None:
        raise NotFound(kind="model_version", key=f"{model}:{version}")
    (mv_row, model_row) = repo.model_versions_by_ids(session, [mv.id])[mv.id]
    red = Redactor(principal)
    red.require(model_row.namespace, kind="model_version", key=f"{model}:{version}")
    # The link is one training-set version (null only for a legacy row no version matched).
    ts = [] if mv.training_set_version_id is None else [mv.training_set_version_id]
    versions, runs, truncated = _walk_versions(session, ts, True, max_depth, max_nodes)
    out_v, out_r = _describe(session, versions, runs, red)
    ts_data = _describe(session, ts, [], red)[0]
    return {
        "model": model,
        "version": version,
        "namespace": model_row.namespace,
        "metrics": mv_row.metrics,
        "codeVersion": mv_row.code_version,
        "trainingSetVersion": mv.training_set_version,
        "trainingSet": ts_data[0] if ts_data else None,
        "datasetVersions": out_v,
        "runs": out_r,
        "truncated": truncated,
    }


def impact(
    session: Session,
    namespace: str,
    dataset: str,
    version: str,
    *,
    principal: Principal | None = None,
    max_depth: int = 20,
    max_nodes: int = 500,
) -> dict[str, Any]:
    """Answer "what is downstream of dataset ``namespace``/``dataset`` at ``version``?".

    Returns:
        Downstream dataset versions and runs (transitively), the training sets among them, the
        model versions trained on those training sets, and their deployments; and
        ``servingDeployments``: the deployments serving online values materialized from it.

    Raises:
        NotFound: unknown dataset version, or (``NotVisible``, worded alike) one outside the
            caller's grants.

    """
    red = Redactor(principal)  # outside the grants: denied, whether it exists or not
    red.require(namespace, kind="dataset_version", key=f"{namespace}:{dataset}#{version}")
    dv = repo.find_dataset_version(session, namespace, dataset, version)
    if dv is None:
        raise NotFound(kind="dataset_version", key=f"{namespace}:{dataset}#{version}")
    versions, runs, truncated = _walk_versions(session, [dv.id], False, max_depth, max_nodes)
    dvs = repo.dataset_versions_by_ids(session, versions)
    ts = [i for i, d in dvs.items() if d.name.startswith(TRAINING_SET_PREFIX)]
    models = repo.model_versions_trained_on(session, ts)
    deployments = repo.deployments_of(session, [mv.id for mv, _ in models])
    envs: dict[int, list[str]] = {}
    details: dict[int, list[dict[str, Any]]] = {}
    for dep in deployments:
        envs.setdefault(dep.model_version_id, []).append(dep.environment)
        details.setdefault(dep.model_version_id, []).append(
            {
                "environment": dep.environment,
                "featureService": dep.feature_service,
                "deployedAt": dep.deployed_at.isoformat(),
            }
        )
    out_m = [
        {
            "name": m.name,
            "version": mv.version,
            "trainingSetVersion": mv.training_set_version,
            "deployments": envs.get(mv.id, []),
            "deploymentDetails": details.get(mv.id, []),
        }
        if red.visible(m.namespace)
        else red.redacted(f"model:{m.name}:{mv.version}")
        for mv, m in models
    ]
    out_v, out_r = _describe(session, versions - {dv.id}, runs, red, rows=dvs)
    training = [v for v in out_v if str(v.get("name", "")).startswith(TRAINING_SET_PREFIX)]
    online = sorted(
        {(d.namespace, d.name) for d in dvs.values() if d.name.startswith(ONLINE_PREFIX)}
    )
    return {
        "namespace": namespace,
        "dataset": dataset,
        "version": version,
        "datasetVersions": out_v,
        "runs": out_r,
        "trainingSets": training,
        "modelVersions": out_m,
        "servingDeployments": _serving(session, online, red),
        "truncated": truncated,
    }


def _serving(
    session: Session, online: list[tuple[str, str]], red: Redactor
) -> list[dict[str, Any]]:
    """Deployments serving, through their feature service, an online table among ``online``.

    An online table downstream of a version holds values materialized from it: every model
    deployed on a feature service that selects the table's view serves them, whatever its own
    training set was.
    """
    out: list[dict[str, Any]] = []
    for namespace, name in online:
        view = FEATURE_VIEW_PREFIX + name[len(ONLINE_PREFIX) :]
        dataset = history_sql.find_dataset(session, namespace, view)
        if dataset is None:
            continue
        for dep, mv, model, _ in history_sql.deployments_serving(session, dataset.id):
            if not red.visible(model.namespace):
                out.append(red.redacted(f"model:{model.name}:{mv.version}"))
                continue
            out.append({**deployment_data(dep, mv, model), "view": view})
    return out
