"""SQL of the usage, reads and history queries: paged lists of a node's versions, runs and events.

Functions take a ``Session`` and plain values and return ORM rows (and totals for pages); callers
own the transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import exists, func, select, union
from sqlalchemy.orm import Session, aliased

from lineage.db.models import (
    ColumnLineage,
    Dataset,
    DatasetAlias,
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
from lineage.identity import TRAINING_SET_PREFIX


def find_dataset(session: Session, namespace: str, name: str) -> Dataset | None:
    """Return dataset ``namespace``/``name``, or the dataset that name is a symlink of."""
    stmt = select(Dataset).where(Dataset.namespace == namespace, Dataset.name == name)
    found = session.scalars(stmt).first()
    if found is not None:
        return found
    aliased_to = (
        select(Dataset)
        .join(DatasetAlias, DatasetAlias.dataset_id == Dataset.id)
        .where(DatasetAlias.namespace == namespace, DatasetAlias.name == name)
    )
    return session.scalars(aliased_to).first()


def recent_versions(session: Session, dataset_id: int, limit: int = 50) -> list[DatasetVersion]:
    """Return a dataset's versions, newest first."""
    stmt = (
        select(DatasetVersion)
        .where(DatasetVersion.dataset_id == dataset_id)
        .order_by(DatasetVersion.created_at.desc(), DatasetVersion.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def training_sets_reading(
    session: Session, dataset_id: int
) -> list[tuple[DatasetVersion, Dataset, DatasetVersion]]:
    """Return (training-set version, its dataset, input version read) for runs reading a dataset."""
    read = aliased(DatasetVersion)
    stmt = (
        select(DatasetVersion, Dataset, read)
        .select_from(RunInput)
        .join(read, read.id == RunInput.dataset_version_id)
        .join(RunOutput, RunOutput.run_id == RunInput.run_id)
        .join(DatasetVersion, DatasetVersion.id == RunOutput.dataset_version_id)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(RunInput.dataset_id == dataset_id, Dataset.name.startswith(TRAINING_SET_PREFIX))
        .order_by(DatasetVersion.id)
    )
    return [(ts, ds, dv) for ts, ds, dv in session.execute(stmt)]


def deployments_serving(
    session: Session, dataset_id: int
) -> list[tuple[Deployment, ModelVersion, Model, Dataset]]:
    """Return deployments whose feature service, as last applied, selects dataset ``dataset_id``.

    A feature service selects a view when a run that wrote the service's newest definition
    version read the view (``skewless apply`` emits one such run per feature service).
    """
    newest = (
        select(DatasetVersion.id)
        .where(DatasetVersion.dataset_id == Deployment.feature_service_id)
        .order_by(DatasetVersion.created_at.desc(), DatasetVersion.id.desc())
        .limit(1)
        .correlate(Deployment)  # two levels down: not correlated by default
        .scalar_subquery()
    )
    selects = exists().where(
        RunOutput.dataset_version_id == newest,
        RunInput.run_id == RunOutput.run_id,
        RunInput.dataset_id == dataset_id,
    )
    stmt = (
        select(Deployment, ModelVersion, Model, Dataset)
        .join(ModelVersion, ModelVersion.id == Deployment.model_version_id)
        .join(Model, Model.id == ModelVersion.model_id)
        .join(Dataset, Dataset.id == Deployment.feature_service_id)
        .where(selects)
        .order_by(Model.name, ModelVersion.version, Deployment.environment)
    )
    return [(d, mv, m, fs) for d, mv, m, fs in session.execute(stmt)]


def column_inputs(
    session: Session, dv_ids: Collection[int], namespace: str, name: str
) -> dict[int, set[str]]:
    """Return, per output version declaring column lineage, the fields it takes from a dataset.

    A version that declares column lineage but none from ``namespace/name`` maps to an empty set;
    a version declaring no column lineage at all is absent.
    """
    stmt = select(
        ColumnLineage.dataset_version_id,
        ColumnLineage.input_namespace,
        ColumnLineage.input_name,
        ColumnLineage.input_field,
    ).where(ColumnLineage.dataset_version_id.in_(dv_ids))
    out: dict[int, set[str]] = {}
    for dv_id, in_ns, in_name, field_name in session.execute(stmt):
        used = out.setdefault(dv_id, set())
        if (in_ns, in_name) == (namespace, name):
            used.add(field_name)
    return out


def _page(session: Session, stmt: Any, limit: int, offset: int) -> tuple[list[Any], int]:
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = list(session.execute(stmt.limit(limit).offset(offset)))
    return rows, total


def _run_time() -> Any:
    return func.coalesce(Run.started_at, Run.state_time)


def runs_reading(
    session: Session, dataset_id: int, *, limit: int, offset: int
) -> tuple[list[tuple[Run, Job, DatasetVersion]], int]:
    """Return runs that read a dataset (with their job and the version read), newest first."""
    stmt = (
        select(Run, Job, DatasetVersion)
        .select_from(RunInput)
        .join(Run, Run.run_id == RunInput.run_id)
        .join(Job, Job.id == Run.job_id)
        .join(DatasetVersion, DatasetVersion.id == RunInput.dataset_version_id)
        .where(RunInput.dataset_id == dataset_id)
        .order_by(_run_time().desc(), Run.run_id.desc())
    )
    rows, total = _page(session, stmt, limit, offset)
    return [(r, j, dv) for r, j, dv in rows], total


def version_of_dataset(session: Session, dataset_id: int, version: str) -> DatasetVersion | None:
    """Return the version ``version`` of the dataset with id ``dataset_id``."""
    stmt = select(DatasetVersion).where(
        DatasetVersion.dataset_id == dataset_id, DatasetVersion.version == version
    )
    return session.scalars(stmt).first()


def versions_of_dataset(
    session: Session, dataset_id: int, *, limit: int, offset: int
) -> tuple[list[DatasetVersion], int]:
    """Return a dataset's versions, newest first, and how many there are."""
    stmt = (
        select(DatasetVersion)
        .where(DatasetVersion.dataset_id == dataset_id)
        .order_by(DatasetVersion.created_at.desc(), DatasetVersion.id.desc())
    )
    rows, total = _page(session, stmt, limit, offset)
    return [r[0] for r in rows], total


def runs_of_job(session: Session, job_id: int, *, limit: int, offset: int) -> tuple[list[Run], int]:
    """Return a job's runs, newest first, and how many there are."""
    stmt = select(Run).where(Run.job_id == job_id).order_by(_run_time().desc(), Run.run_id.desc())
    rows, total = _page(session, stmt, limit, offset)
    return [r[0] for r in rows], total


def events_of_runs(
    session: Session, run_ids: Any, *, limit: int, offset: int
) -> tuple[list[tuple[LineageEvent, str | None]], int]:
    """Return stored events of the given runs (ids or a subquery), newest first.

    Each event comes with the namespace of its run's job (None if the run is not stored), which
    decides who may see it.
    """
    stmt = (
        select(LineageEvent, Job.namespace)
        .outerjoin(Run, Run.run_id == LineageEvent.run_id)
        .outerjoin(Job, Job.id == Run.job_id)
        .where(LineageEvent.run_id.in_(run_ids))
        .order_by(LineageEvent.event_time.desc(), LineageEvent.id.desc())
    )
    rows, total = _page(session, stmt, limit, offset)
    return [(event, namespace) for event, namespace in rows], total


def runs_touching_version(dv_id: int) -> Any:
    """A subquery of the runs that read or wrote dataset version ``dv_id``."""
    return union(
        select(RunInput.run_id).where(RunInput.dataset_version_id == dv_id),
        select(RunOutput.run_id).where(RunOutput.dataset_version_id == dv_id),
    )


def versions_of_model(
    session: Session, model_id: int, *, limit: int, offset: int
) -> tuple[list[ModelVersion], int]:
    """Return a model's versions, newest first, and how many there are."""
    stmt = (
        select(ModelVersion)
        .where(ModelVersion.model_id == model_id)
        .order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
    )
    rows, total = _page(session, stmt, limit, offset)
    return [r[0] for r in rows], total
