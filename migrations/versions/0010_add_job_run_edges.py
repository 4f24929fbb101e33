"""add job run edges: run inputs and outputs folded by job

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

The current graph walked ``run_inputs`` and ``run_outputs`` through ``runs``: every run of every
job it reached, so a job run daily for a year cost 365 times a job run once. ``job_run_edges``
holds each (job, dataset, direction) some run of the job read or wrote, one row however many
runs did; intake keeps it with the run edges, and this migration fills it from those stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_run_edges",
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "dataset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "dataset_id", "direction"),
    )
    op.create_index("ix_job_run_edges_dataset_id", "job_run_edges", ["dataset_id"])
    for table, direction in (("run_inputs", "in"), ("run_outputs", "out")):
        op.execute(
            "INSERT INTO job_run_edges (job_id, dataset_id, direction) "
            f"SELECT DISTINCT r.job_id, e.dataset_id, '{direction}' "
            f"FROM {table} e JOIN runs r ON r.run_id = e.run_id"
        )


def downgrade() -> None:
    op.drop_table("job_run_edges")
