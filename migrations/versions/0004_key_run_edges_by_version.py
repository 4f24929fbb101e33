"""key run edges by dataset version: a run may read (or write) several versions of one dataset

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

A training set reads every version of its sources and a materialization every version it
loads; with edges keyed by (run, dataset) only the first of them was linked, so the impact of
a later version missed the models trained on it. Existing edges keep their rows (one per run
and dataset is one per run and version too).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("run_inputs", "run_outputs")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", ["run_id", "dataset_version_id"])


def downgrade() -> None:
    for table in _TABLES:
        # One edge per (run, dataset) again: keep each run's first-linked version of a dataset.
        op.execute(
            f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {table} o "
            f"WHERE o.run_id = {table}.run_id AND o.dataset_id = {table}.dataset_id "
            f"AND o.dataset_version_id < {table}.dataset_version_id)"
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"pk_{table}", type_="primary")
            batch_op.create_primary_key(f"pk_{table}", ["run_id", "dataset_id"])
