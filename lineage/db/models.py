"""SQLAlchemy 2 models of the lineage database (the schema Alembic migrations must match).

Owns table and column definitions only; every query lives in ``lineage.db.repositories``.
Timestamps are stored as UTC and always come back timezone-aware, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, but INTEGER on SQLite so that it is the rowid alias and autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and returned timezone-aware (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetimes are not accepted; pass an aware datetime"
            raise ValueError(msg)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class LineageEvent(Base):
    """An accepted OpenLineage event, stored verbatim; append-only, unique by content hash."""

    __tablename__ = "lineage_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_hash: Mapped[str] = mapped_column(String(64), unique=True)
    event_kind: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str | None] = mapped_column(String(16))
    event_time: Mapped[datetime]
    run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    received_by: Mapped[str | None] = mapped_column(String(200))


class Dataset(Base):
    """A dataset identified by (namespace, name)."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("namespace", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(400))
    name: Mapped[str] = mapped_column(String(400))
    facets: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DatasetVersion(Base):
    """One immutable version of a dataset: the producer's version, or a schema content hash."""

    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "version"),
        # What run edges reference: a version together with its dataset.
        Index("uq_dataset_versions_dataset_id_id", "dataset_id", "id", unique=True),
        Index(None, "version"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(200))
    version_source: Mapped[str] = mapped_column(String(16))
    schema_fields: Mapped[dict[str, Any]]
    facets: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class Job(Base):
    """A job identified by (namespace, name); facets are the latest seen (OL facets replace)."""

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("namespace", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    namespace: Mapped[str] = mapped_column(String(400))
    name: Mapped[str] = mapped_column(String(400))
    facets: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Run(Base):
    """A run of a job; its state is order-tolerant (a terminal state is never undone by START)."""

    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    state_time: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    facets: Mapped[dict[str, Any]]
    job_facets: Mapped[dict[str, Any]]


class RunInput(Base):
    """Edge: a run read one version of a dataset (a run may read several versions of one)."""

    __tablename__ = "run_inputs"
    # One key checks that the version exists and belongs to the edge's dataset.
    __table_args__ = (
        ForeignKeyConstraint(
            ["dataset_id", "dataset_version_id"],
            ["dataset_versions.dataset_id", "dataset_versions.id"],
            ondelete="CASCADE",
        ),
    )

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    dataset_id: Mapped[int] = mapped_column(BigId, index=True)
    dataset_version_id: Mapped[int] = mapped_column(BigId, primary_key=True, index=True)
    version_source: Mapped[str] = mapped_column(String(16))


class RunOutput(Base):
    """Edge: a run wrote one version of a dataset (a run may write several versions of one)."""

    __tablename__ = "run_outputs"
    # One key checks that the version exists and belongs to the edge's dataset.
    __table_args__ = (
        ForeignKeyConstraint(
            ["dataset_id", "dataset_version_id"],
            ["dataset_versions.dataset_id", "dataset_versions.id"],
            ondelete="CASCADE",
        ),
    )

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    dataset_id: Mapped[int] = mapped_column(BigId, index=True)
    dataset_version_id: Mapped[int] = mapped_column(BigId, primary_key=True, index=True)
    version_source: Mapped[str] = mapped_column(String(16))


class JobEdge(Base):
    """Edge: a job reads (``in``) or writes (``out``) a dataset, with no run behind it.

    From a JobEvent's inputs and outputs (a job's declared lineage), and from a run's input in a
    namespace its producer may not write (the read is recorded, nothing is written there).
    """

    __tablename__ = "job_edges"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    direction: Mapped[str] = mapped_column(String(3), primary_key=True)


class JobRunEdge(Base):
    """Edge: some run of a job read (``in``) or wrote (``out``) a dataset.

    ``run_inputs`` and ``run_outputs`` folded by job, kept by intake with them: the current
    graph walks this one narrow table instead of every run of every job it reaches. A run keeps
    an edge to each dataset it ever named, so a row here is never removed but by its ends.
    """

    __tablename__ = "job_run_edges"

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    direction: Mapped[str] = mapped_column(String(3), primary_key=True)


class RunParent(Base):
    """A run's parent run (OpenLineage's ParentRunFacet: a task's DAG run, a model's dbt run)."""

    __tablename__ = "run_parents"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True
    )
    parent_run_id: Mapped[str] = mapped_column(
        ForeignKey("runs.run_id", ondelete="CASCADE"), index=True
    )


class DatasetAlias(Base):
    """Another name of a dataset (OpenLineage's ``symlinks`` facet, e.g. a Hive table name)."""

    __tablename__ = "dataset_aliases"

    namespace: Mapped[str] = mapped_column(String(400), primary_key=True)
    name: Mapped[str] = mapped_column(String(400), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )


class ColumnLineage(Base):
    """Edge: an output column of a dataset version derives from an input dataset column."""

    __tablename__ = "column_lineage"
    __table_args__ = (
        UniqueConstraint(
            "dataset_version_id", "output_field", "input_namespace", "input_name", "input_field"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dataset_version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE")
    )
    output_field: Mapped[str] = mapped_column(String(400))
    input_namespace: Mapped[str] = mapped_column(String(400))
    input_name: Mapped[str] = mapped_column(String(400))
    input_field: Mapped[str] = mapped_column(String(400))
    transformation: Mapped[str | None] = mapped_column(String(32))


class Model(Base):
    """A model, by name, in a namespace (for grants)."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(400), unique=True)
    namespace: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime]


class ModelVersion(Base):
    """A model version trained on one training-set version.

    ``training_set_version_id`` is the link (one dataset version of one training set);
    ``training_set_version`` keeps the version string as registered. The link is null only for
    rows registered before it existed whose version string no single training set matched.
    """

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(200))
    training_set_version: Mapped[str] = mapped_column(String(200), index=True)
    training_set_version_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("dataset_versions.id"), index=True
    )
    metrics: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    # The code it was registered from (a git commit, "-dirty" when modified); null: not given.
    code_version: Mapped[str | None] = mapped_column(String(200))


class Deployment(Base):
    """A model version deployed to an environment, serving from a feature service."""

    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("model_version_id", "environment"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    model_version_id: Mapped[int] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), index=True
    )
    environment: Mapped[str] = mapped_column(String(200))
    deployed_at: Mapped[datetime]
    feature_service: Mapped[str | None] = mapped_column(String(400))
    # The ``feature_service/<name>`` dataset node it serves from (null: none given).
    feature_service_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("datasets.id", ondelete="SET NULL"), index=True
    )


class Principal(Base):
    """A caller identity: the name its tokens act under (roles and grants are the tokens')."""

    __tablename__ = "principals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]


class Token(Base):
    """A bearer token, stored only as its sha256 hex digest, with the role it was issued."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class TokenGrant(Base):
    """A token's access to one namespace (``*`` means every namespace)."""

    __tablename__ = "token_grants"

    token_id: Mapped[int] = mapped_column(
        ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True
    )
    namespace: Mapped[str] = mapped_column(String(400), primary_key=True)


class AuditLog(Base):
    """One audited request; ``hash`` chains over every field and the previous entry's hash."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(index=True)
    principal: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(64))
    object: Mapped[str] = mapped_column(Text)
    allowed: Mapped[bool] = mapped_column(Boolean)
    source_address: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The single row naming the chain's last entry; locked to serialize appends."""

    __tablename__ = "audit_heads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(BigId)
    last_hash: Mapped[str] = mapped_column(String(64))
