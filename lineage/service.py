"""The lineage domain: intake of OpenLineage events, model registry, and queries.

Intake stores the raw event first (idempotent by content hash), then derives the graph in the same
transaction: datasets, dataset versions, jobs, runs (order-tolerant state), run -> version edges
and column lineage. A duplicate event is a no-op. Graph queries live in ``lineage.queries`` and
are re-exported here so callers have one entry point.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from lineage.access import Principal, authorize
from lineage.db import repositories as repo
from lineage.db.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    Job,
    LineageEvent,
    Model,
    ModelVersion,
    Run,
    RunInput,
    RunOutput,
)
from lineage.errors import Conflict, Forbidden, NotFound
from lineage.events import TERMINAL_STATES, DatasetRecord, ParsedEvent, validate_event
from lineage.identity import NAMESPACE
from lineage.queries import impact, lineage_graph, provenance, run_state_wins
from lineage.usage import history, reads, usage

__all__ = [
    "IngestResult",
    "history",
    "impact",
    "ingest_event",
    "lineage_graph",
    "provenance",
    "reads",
    "register_deployment",
    "register_model",
    "summary",
    "usage",
]


@dataclass(frozen=True)
class IngestResult:
    """Outcome of one intake: ``duplicate`` is True when the event was already stored."""

    event_hash: str
    duplicate: bool
    kind: str
    run_id: str | None


def canonical_json(value: Any) -> str:
    """Serialize JSON deterministically (sorted keys, no spaces) for hashing."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def ingest_event(
    session: Session, event: Mapping[str, Any], *, received_by: str | None = None
) -> IngestResult:
    """Validate, store and derive one OpenLineage event; a duplicate is a no-op.

    Args:
        session: An open session; the caller commits (raw event and graph commit together).
        event: The decoded event JSON.
        received_by: Name of the principal that sent it, if known.

    Returns:
        What happened.

    Raises:
        InvalidEvent: naming the failing field; nothing is written.

    """
    parsed = validate_event(dict(event))
    digest = hashlib.sha256(canonical_json(event).encode("utf-8")).hexdigest()
    row = LineageEvent(
        event_hash=digest,
        event_kind=parsed.kind,
        event_type=parsed.event_type,
        event_time=parsed.event_time,
        run_id=parsed.run_id,
        payload=dict(event),
        received_at=datetime.now(UTC),
        received_by=received_by,
    )
    if not repo.insert_event(session, row):
        return IngestResult(digest, duplicate=True, kind=parsed.kind, run_id=parsed.run_id)
    if parsed.kind == "dataset" and parsed.dataset is not None:
        _derive_dataset(session, parsed.dataset, parsed.event_time)
    elif parsed.kind == "job":
        _upsert_job(session, parsed)
    else:
        _derive_run(session, parsed)
    session.flush()
    return IngestResult(digest, duplicate=False, kind=parsed.kind, run_id=parsed.run_id)


def _upsert_job(session: Session, parsed: ParsedEvent) -> Job:
    now = datetime.now(UTC)
    job, _ = repo.get_or_create(
        session,
        Job,
        {"namespace": parsed.job_namespace, "name": parsed.job_name},
        {"facets": {}, "created_at": now, "updated_at": now},
    )
    if parsed.job_facets:
        job.facets = {**job.facets, **parsed.job_facets}
        job.updated_at = now
    return job


def _schema_hash(record: DatasetRecord) -> str:
    fields = record.facets.get("schema", {}).get("fields", [])
    text = canonical_json([record.namespace, record.name, fields])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _derive_dataset(
    session: Session, record: DatasetRecord, when: datetime
) -> tuple[DatasetVersion, str]:
    """Upsert the dataset and the version this mention refers to; return it and its source."""
    now = datetime.now(UTC)
    dataset, _ = repo.get_or_create(
        session,
        Dataset,
        {"namespace": record.namespace, "name": record.name},
        {"facets": {}, "created_at": now, "updated_at": now},
    )
    if record.facets:
        dataset.facets = {**dataset.facets, **record.facets}
        dataset.updated_at = now
    if "version" in record.facets:
        version, source = str(record.facets["version"]["datasetVersion"]), "facet"
    elif "schema" in record.facets:
        version, source = _schema_hash(record), "schema"
    else:
        latest = repo.latest_dataset_version(session, dataset.id)
        if latest is not None:
            return latest, "inferred"
        version, source = _schema_hash(record), "inferred"
    facets = {**record.facets, **record.io_facets}
    dv, created = repo.get_or_create(
        session,
        DatasetVersion,
        {"dataset_id": dataset.id, "version": version},
        {
            "version_source": source,
            "schema_fields": {"fields": record.facets.get("schema", {}).get("fields", [])},
            "facets": facets,
            "created_at": when,
        },
    )
    if not created and facets:
        dv.facets = {**dv.facets, **facets}
    return dv, source


def _derive_run(session: Session, parsed: ParsedEvent) -> None:
    job = _upsert_job(session, parsed)
    assert parsed.run_id is not None, "validated"
    assert parsed.event_type is not None, "validated"
    run, created = repo.get_or_create(
        session,
        Run,
        {"run_id": parsed.run_id},
        {
            "job_id": job.id,
            "state": parsed.event_type,
            "state_time": parsed.event_time,
            "started_at": None,
            "ended_at": None,
            "facets": {},
            "job_facets": {},
        },
    )
    _apply_state(run, parsed.event_type, parsed.event_time, created)
    run.facets = {**run.facets, **parsed.run_facets}
    run.job_facets = {**run.job_facets, **parsed.job_facets}
    session.flush()
    for edge, records in ((RunInput, parsed.inputs), (RunOutput, parsed.outputs)):
        for record in records:
            dv, source = _derive_dataset(session, record, parsed.event_time)
            repo.upsert_run_edge(session, edge, run.run_id, dv, source)
            if edge is RunOutput:
                _derive_column_lineage(session, dv, record)


def _apply_state(run: Run, event_type: str, when: datetime, created: bool) -> None:
    """Order-tolerant state: a terminal state is never undone; among terminals the latest wins."""
    if event_type == "START":
        run.started_at = when if run.started_at is None else min(run.started_at, when)
    if event_type in TERMINAL_STATES:
        run.ended_at = when if run.ended_at is None else max(run.ended_at, when)
    if created:
        return
    if run_state_wins(event_type, when, run.state, run.state_time):
        run.state = event_type
        run.state_time = when


def _derive_column_lineage(session: Session, dv: DatasetVersion, record: DatasetRecord) -> None:
    fields = record.facets.get("columnLineage", {}).get("fields", {})
    rows: list[dict[str, Any]] = []
    for out_field, spec in fields.items():
        for item in (spec or {}).get("inputFields", []) or []:
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) for k in ("namespace", "name", "field")
            ):
                continue
            transforms = item.get("transformations") or [{}]
            first = transforms[0] if isinstance(transforms[0], dict) else {}
            rows.append(
                {
                    "dataset_version_id": dv.id,
                    "output_field": str(out_field),
                    "input_namespace": item["namespace"],
                    "input_name": item["name"],
                    "input_field": item["field"],
                    "transformation": first.get("type"),
                }
            )
    repo.add_column_lineage(session, rows)


def register_model(
    session: Session,
    name: str,
    version: str,
    training_set_version: str,
    metrics: Mapping[str, float],
    *,
    namespace: str = NAMESPACE,
) -> None:
    """Record that model ``name`` at ``version`` was trained on ``training_set_version``.

    Registering the same version again with the same training set is a no-op.

    Raises:
        Conflict: if this model version is already registered with another training set.

    """
    now = datetime.now(UTC)
    model, _ = repo.get_or_create(
        session, Model, {"name": name}, {"namespace": namespace, "created_at": now}
    )
    mv, created = repo.get_or_create(
        session,
        ModelVersion,
        {"model_id": model.id, "version": version},
        {
            "training_set_version": training_set_version,
            "metrics": {k: float(v) for k, v in metrics.items()},
            "created_at": now,
        },
    )
    if not created and mv.training_set_version != training_set_version:
        raise Conflict(kind="model_version", key=f"{name}:{version}")
    session.flush()


def register_deployment(
    session: Session,
    model: str,
    version: str,
    environment: str,
    deployed_at: datetime | None = None,
    *,
    feature_service: str | None = None,
    principal: Principal | None = None,
) -> None:
    """Record that model ``model`` at ``version`` is deployed to ``environment`` (idempotent).

    Args:
        session: An open session; the caller commits.
        model: The model name.
        version: The model version.
        environment: Where it runs, e.g. ``production``.
        deployed_at: When (default: now).
        feature_service: The Feast feature service it reads online features from.
        principal: The caller, who needs ``write`` on the model's namespace (None: in-process).

    Raises:
        NotFound: if the model version is not registered.
        Forbidden: the caller may not write in the model's namespace.
        Conflict: the deployment is already recorded with another feature service.

    """
    mv = repo.find_model_version(session, model, version)
    if mv is None:
        raise NotFound(kind="model_version", key=f"{model}:{version}")
    if principal is not None:
        namespace = repo.model_versions_by_ids(session, [mv.id])[mv.id][1].namespace
        if not authorize(principal, "write", namespace):
            raise Forbidden(principal=principal.name, action="write", namespace=namespace)
    row, created = repo.get_or_create(
        session,
        Deployment,
        {"model_version_id": mv.id, "environment": environment},
        {"deployed_at": deployed_at or datetime.now(UTC), "feature_service": feature_service},
    )
    if not created and feature_service is not None and row.feature_service != feature_service:
        if row.feature_service is not None:
            raise Conflict(kind="deployment", key=f"{model}:{version}@{environment}")
        row.feature_service = feature_service
    session.flush()


def summary(session: Session) -> dict[str, Any]:
    """Count datasets, dataset versions, jobs, runs by state, models, versions and events."""
    return repo.count_summary(session)
