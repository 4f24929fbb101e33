"""Read side of the lineage graph: Marquez-shaped traversal, model provenance, dataset impact.

Every traversal is breadth-first with a fixed number of set-based queries per level, bounded by a
depth and a node budget. Every returned node is checked against the caller's grants; nodes the
caller may not read come back as ``{"id": "redacted:<n>", "type": "REDACTED"}`` placeholders.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from lineage.access import Principal, authorize
from lineage.db import repositories as repo
from lineage.db.models import Dataset, DatasetVersion, Job, Run, RunInput, RunOutput
from lineage.errors import Forbidden, InvalidQuery, NotFound
from lineage.identity import TRAINING_SET_PREFIX
from lineage.rules import run_state_wins

Node = tuple[str, Any]  # (type, database key)
NODE_TYPES = {
    "dataset": "DATASET",
    "job": "JOB",
    "datasetVersion": "DATASET_VERSION",
    "run": "RUN",
    "model": "MODEL",
}


@dataclass
class _Redactor:
    """Replaces ids of unreadable objects by stable per-response placeholders."""

    principal: Principal | None
    ids: dict[str, str] = field(default_factory=dict)

    def visible(self, namespace: str) -> bool:
        return self.principal is None or authorize(self.principal, "read", namespace)

    def placeholder(self, real_id: str) -> str:
        return self.ids.setdefault(real_id, f"redacted:{len(self.ids) + 1}")


def aware_utc(value: datetime | None, field_name: str) -> datetime | None:
    """Return ``value`` in UTC (naive means UTC), or raise ``InvalidQuery`` if it cannot be.

    Raises:
        InvalidQuery: for a time that overflows when moved to UTC (e.g. year 1 at +01:00).

    """
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise InvalidQuery(field=field_name, reason="date-time out of range") from None


def _check_bounds(depth: int, max_depth: int) -> None:
    if depth < 0 or depth > max_depth:
        raise InvalidQuery(field="depth", reason=f"must be between 0 and {max_depth}")


def _splits(text: str) -> list[tuple[str, str]]:
    return [(text[:i], text[i + 1 :]) for i, ch in enumerate(text) if ch == ":"]


def resolve_node(session: Session, node_id: str) -> Node:
    """Resolve a node id to its database key.

    Ids: ``dataset:ns:name``, ``job:ns:name``, ``datasetVersion:ns:name#v``, ``run:<uuid>``,
    ``model:name:version``. A namespace may itself contain ``:`` (URIs); every split is tried.

    Raises:
        InvalidQuery: for a malformed id. NotFound: for an unknown node.

    """
    kind, sep, rest = node_id.partition(":")
    if not sep or kind not in NODE_TYPES or not rest:
        raise InvalidQuery(field="nodeId", reason=f"must start with one of {sorted(NODE_TYPES)}")
    found: Node | None = None
    if kind in ("dataset", "job"):
        model = Dataset if kind == "dataset" else Job
        row = repo.find_by_split_candidates(session, model, _splits(rest))
        found = None if row is None else (kind, row.id)
    elif kind == "datasetVersion":
        name_part, _, version = rest.rpartition("#")
        for ns, name in _splits(name_part):
            dv = repo.find_dataset_version(session, ns, name, version)
            if dv is not None:
                found = (kind, dv.id)
                break
    elif kind == "model":
        name, _, version = rest.rpartition(":")
        mv = repo.find_model_version(session, name, version)
        found = None if mv is None else (kind, mv.id)
    else:
        runs = repo.runs_by_ids(session, [rest])
        found = (kind, rest) if rest in runs else None
    if found is None:
        raise NotFound(kind="node", key=node_id)
    return found


def _edges_for(
    session: Session, frontier: Collection[Node], as_of: datetime | None
) -> set[repo.Edge]:
    by_type: dict[str, list[Any]] = {t: [] for t in NODE_TYPES}
    for kind, key in frontier:
        by_type[kind].append(key)
    edges = set()
    if by_type["dataset"] or by_type["job"] or by_type["model"]:
        edges |= repo.dataset_job_edges(
            session, by_type["dataset"], by_type["job"], by_type["model"], as_of
        )
    if by_type["datasetVersion"] or by_type["run"]:
        edges |= repo.version_edges(session, by_type["datasetVersion"], by_type["run"], [], as_of)
        # model nodes reached from a version keep the version-exact mode
        edges = {e for e in edges if e[0][0] != "dataset"}
    return edges


def _traverse(
    session: Session, start: Node, depth: int, max_nodes: int, as_of: datetime | None = None
) -> tuple[set[Node], set[repo.Edge], bool]:
    visited, frontier, kept = {start}, {start}, set()
    truncated = False
    versioned = start[0] in ("datasetVersion", "run")
    for _ in range(depth):
        if not frontier:
            break
        found = _edges_for(session, frontier, as_of)
        if versioned:
            found = {e for e in found if e[0][0] != "dataset" and e[1][0] != "dataset"}
        nxt: set[Node] = set()
        for edge in sorted(found, key=repr):
            for node in edge:
                if node not in visited and node not in nxt:
                    if len(visited) + len(nxt) >= max_nodes:
                        truncated = True
                        continue
                    nxt.add(node)
            if all(n in visited or n in nxt for n in edge):
                kept.add(edge)
        visited |= nxt
        frontier = nxt
    return visited, kept, truncated


NodeInfo = tuple[str, str, dict[str, Any]]  # (public id, namespace, data)


def _node_info(
    session: Session, nodes: Iterable[Node], as_of: datetime | None = None
) -> dict[Node, NodeInfo]:
    """Return (node id, namespace, data) for every node, with one query per node type.

    With ``as_of``, a dataset shows the schema of its newest version at that time and a run the
    state its events had reached by then.
    """
    keys: dict[str, list[Any]] = {t: [] for t in NODE_TYPES}
    for kind, key in nodes:
        keys[kind].append(key)
    out: dict[Node, NodeInfo] = {}
    for i, ds in repo.datasets_by_ids(session, keys["dataset"]).items():
        out[("dataset", i)] = (f"dataset:{ds.namespace}:{ds.name}", ds.namespace, _dataset_data(ds))
    for i, job in repo.jobs_by_ids(session, keys["job"]).items():
        out[("job", i)] = (f"job:{job.namespace}:{job.name}", job.namespace, _job_data(job))
    for i, (dv, ds) in repo.dataset_versions_by_ids(session, keys["datasetVersion"]).items():
        out[("datasetVersion", i)] = (_dv_id(dv, ds), ds.namespace, version_data(dv, ds))
    for rid, (run, job) in repo.runs_by_ids(session, keys["run"]).items():
        out[("run", rid)] = (f"run:{rid}", job.namespace, run_data(run, job))
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
    for ds_id, dv in repo.latest_versions_until(session, keys["dataset"], as_of).items():
        ds_node: Node = ("dataset", ds_id)
        if ds_node in out:
            out[ds_node][2]["fields"] = dv.schema_fields.get("fields", [])
    states: dict[str, tuple[str, datetime]] = {}
    for run_id, event_type, when in repo.run_events_until(session, keys["run"], as_of):
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


def _dv_id(dv: DatasetVersion, ds: Dataset) -> str:
    return f"datasetVersion:{ds.namespace}:{ds.name}#{dv.version}"


def _dataset_data(ds: Dataset) -> dict[str, Any]:
    fields = ds.facets.get("schema", {}).get("fields", [])
    return {
        "namespace": ds.namespace,
        "name": ds.name,
        "fields": fields,
        "updatedAt": ds.updated_at.isoformat(),
    }


def _job_data(job: Job) -> dict[str, Any]:
    return {
        "namespace": job.namespace,
        "name": job.name,
        **code_version(job.facets),
        "updatedAt": job.updated_at.isoformat(),
    }


def code_version(job_facets: dict[str, Any]) -> dict[str, Any]:
    """Extract the code version and location from ``sourceCodeLocation``/``sourceCode`` facets."""
    loc = job_facets.get("sourceCodeLocation") or {}
    src = job_facets.get("sourceCode") or {}
    return {
        "codeVersion": loc.get("version"),
        "codeLocation": loc.get("url"),
        "codeLanguage": src.get("language"),
    }


def version_data(dv: DatasetVersion, ds: Dataset) -> dict[str, Any]:
    """Describe a dataset version without leaking opaque facets."""
    stats = dv.facets.get("outputStatistics") or {}
    assertions = (dv.facets.get("dataQualityAssertions") or {}).get("assertions") or []
    return {
        "namespace": ds.namespace,
        "name": ds.name,
        "version": dv.version,
        "versionSource": dv.version_source,
        "createdAt": dv.created_at.isoformat(),
        "rowCount": stats.get("rowCount"),
        "failedAssertions": [a for a in assertions if isinstance(a, dict) and not a.get("success")],
    }


def run_data(run: Run, job: Job) -> dict[str, Any]:
    """Describe a run: state, times, job and code version."""
    return {
        "runId": run.run_id,
        "job": {"namespace": job.namespace, "name": job.name},
        "state": run.state,
        "startedAt": run.started_at.isoformat() if run.started_at else None,
        "endedAt": run.ended_at.isoformat() if run.ended_at else None,
        **code_version(run.job_facets),
    }


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
        InvalidQuery, NotFound, Forbidden (the start node is outside the caller's grants).

    """
    _check_bounds(depth, max_depth)
    as_of = aware_utc(as_of, "asOf")
    start = resolve_node(session, node_id)
    if as_of is not None and not repo.node_seen_by(session, start[0], start[1], as_of):
        raise NotFound(kind="node", key=f"{node_id} as of {as_of.isoformat()}")
    nodes, edges, truncated = _traverse(session, start, depth, max_nodes, as_of)
    info = _node_info(session, nodes, as_of)
    red = _Redactor(principal)
    if not red.visible(info[start][1]):
        assert principal is not None
        raise Forbidden(principal=principal.name, action="read", namespace=info[start][1])
    public = {n: (i[0] if red.visible(i[1]) else red.placeholder(i[0])) for n, i in info.items()}
    into: dict[str, list[dict[str, str]]] = defaultdict(list)
    out_of: dict[str, list[dict[str, str]]] = defaultdict(list)
    for a, b in edges:  # each edge indexed once by both ends (not rescanned per node)
        link = {"origin": public[a], "destination": public[b]}
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
                "inEdges": sorted(into[public[node]], key=repr),
                "outEdges": sorted(out_of[public[node]], key=repr),
            }
        )
    return {"graph": graph, "truncated": truncated}


def _walk_versions(
    session: Session,
    start: Collection[int],
    step: Callable[[Collection[int]], tuple[set[str], set[int]]],
    max_depth: int,
    max_nodes: int,
) -> tuple[set[int], set[str], bool]:
    """BFS over dataset versions through runs; ``step`` maps versions to (runs, next versions)."""
    versions, frontier = set(start), set(start)
    runs: set[str] = set()
    for _ in range(max_depth):
        if not frontier:
            return versions, runs, False
        new_runs, nxt = step(frontier)
        runs |= new_runs
        frontier = nxt - versions
        versions |= frontier
        if len(versions) + len(runs) > max_nodes:
            return versions, runs, True
    return versions, runs, bool(frontier)


def _upstream(session: Session) -> Callable[[Collection[int]], tuple[set[str], set[int]]]:
    def step(frontier: Collection[int]) -> tuple[set[str], set[int]]:
        runs = {r for r, _ in repo.run_io(session, RunOutput, dv_ids=frontier)}
        return runs, {v for _, v in repo.run_io(session, RunInput, run_ids=runs)}

    return step


def _downstream(session: Session) -> Callable[[Collection[int]], tuple[set[str], set[int]]]:
    def step(frontier: Collection[int]) -> tuple[set[str], set[int]]:
        runs = {r for r, _ in repo.run_io(session, RunInput, dv_ids=frontier)}
        return runs, {v for _, v in repo.run_io(session, RunOutput, run_ids=runs)}

    return step


def _describe(
    session: Session, versions: Collection[int], runs: Collection[str], red: _Redactor
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Describe versions and runs, redacting those outside the caller's grants."""
    dvs = repo.dataset_versions_by_ids(session, versions)
    out_v = [
        version_data(dv, ds)
        if red.visible(ds.namespace)
        else {"id": red.placeholder(_dv_id(dv, ds)), "type": "REDACTED"}
        for dv, ds in sorted(dvs.values(), key=lambda p: (p[1].namespace, p[1].name, p[0].version))
    ]
    rs = repo.runs_by_ids(session, runs)
    out_r = [
        run_data(run, job)
        if red.visible(job.namespace)
        else {"id": red.placeholder(f"run:{run.run_id}"), "type": "REDACTED"}
        for run, job in sorted(rs.values(), key=lambda p: (p[1].name, p[0].run_id))
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
        NotFound: the model version is unknown. Forbidden: the model is outside the grants.

    """
    mv = repo.find_model_version(session, model, version)
    if mv is None:
        raise NotFound(kind="model_version", key=f"{model}:{version}")
    (mv_row, model_row) = repo.model_versions_by_ids(session, [mv.id])[mv.id]
    red = _Redactor(principal)
    if principal is not None and not red.visible(model_row.namespace):
        raise Forbidden(principal=principal.name, action="read", namespace=model_row.namespace)
    ts = repo.training_set_versions(session, mv.training_set_version)
    versions, runs, truncated = _walk_versions(
        session, [t.id for t in ts], _upstream(session), max_depth, max_nodes
    )
    out_v, out_r = _describe(session, versions, runs, red)
    ts_data = _describe(session, [t.id for t in ts[:1]], [], red)[0]
    return {
        "model": model,
        "version": version,
        "namespace": model_row.namespace,
        "metrics": mv_row.metrics,
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
        model versions trained on those training sets, and their deployments.

    Raises:
        NotFound: unknown dataset version. Forbidden: the dataset is outside the grants.

    """
    dv = repo.find_dataset_version(session, namespace, dataset, version)
    if dv is None:
        raise NotFound(kind="dataset_version", key=f"{namespace}:{dataset}#{version}")
    red = _Redactor(principal)
    if principal is not None and not red.visible(namespace):
        raise Forbidden(principal=principal.name, action="read", namespace=namespace)
    versions, runs, truncated = _walk_versions(
        session, [dv.id], _downstream(session), max_depth, max_nodes
    )
    dvs = repo.dataset_versions_by_ids(session, versions)
    ts = {d.version for d, ds in dvs.values() if ds.name.startswith(TRAINING_SET_PREFIX)}
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
        else {"id": red.placeholder(f"model:{m.name}:{mv.version}"), "type": "REDACTED"}
        for mv, m in models
    ]
    out_v, out_r = _describe(session, versions - {dv.id}, runs, red)
    training = [v for v in out_v if str(v.get("name", "")).startswith(TRAINING_SET_PREFIX)]
    return {
        "namespace": namespace,
        "dataset": dataset,
        "version": version,
        "datasetVersions": out_v,
        "runs": out_r,
        "trainingSets": training,
        "modelVersions": out_m,
        "truncated": truncated,
    }
