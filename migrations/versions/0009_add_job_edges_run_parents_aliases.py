"""add job edges, run parents and dataset aliases

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

OpenLineage producers say more than runs' inputs and outputs: a JobEvent declares a job's
inputs and outputs (``job_edges``, also where a run's read of a dataset in a namespace its
producer may not write is recorded), a ParentRunFacet links a run to its parent run
(``run_parents``), and a ``symlinks`` facet gives a dataset other names (``dataset_aliases``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_edges",
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "dataset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "dataset_id", "direction"),
    )
    op.create_index("ix_job_edges_dataset_id", "job_edges", ["dataset_id"])
    op.create_table(
        "run_parents",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("parent_run_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["parent_run_id"], ["runs.run_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id"),
    )
    op.create_index("ix_run_parents_parent_run_id", "run_parents", ["parent_run_id"])
    op.create_table(
        "dataset_aliases",
        sa.Column("namespace", sa.String(length=400), nullable=False),
        sa.Column("name", sa.String(length=400), nullable=False),
        sa.Column(
            "dataset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("namespace", "name"),
    )
    op.create_index("ix_dataset_aliases_dataset_id", "dataset_aliases", ["dataset_id"])


def downgrade() -> None:
    op.drop_table("dataset_aliases")
    op.drop_table("run_parents")
    op.drop_table("job_edges")
