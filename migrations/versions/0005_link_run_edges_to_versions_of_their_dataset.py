"""link run edges to a version of their own dataset: one composite foreign key per edge table

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

An edge names both its dataset and the dataset version; two foreign keys checked each against
its own table, so nothing kept the version from belonging to another dataset, and every edge
cost the intake two reference checks. One key on (dataset_id, dataset_version_id) referencing
dataset_versions (dataset_id, id) checks both at once and also that they agree. Deleting a
dataset still removes its edges (through its versions).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("run_inputs", "run_outputs")


def upgrade() -> None:
    # A unique index, not a constraint: SQLite adds it in place, where a constraint would mean
    # rebuilding dataset_versions, which other tables reference.
    op.create_index(
        "uq_dataset_versions_dataset_id_id", "dataset_versions", ["dataset_id", "id"], unique=True
    )
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_dataset_id_datasets", type_="foreignkey")
            batch_op.drop_constraint(
                f"fk_{table}_dataset_version_id_dataset_versions", type_="foreignkey"
            )
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_dataset_id_dataset_versions"),
                "dataset_versions",
                ["dataset_id", "dataset_version_id"],
                ["dataset_id", "id"],
                ondelete="CASCADE",
            )


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_dataset_id_dataset_versions", type_="foreignkey")
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_dataset_version_id_dataset_versions"),
                "dataset_versions",
                ["dataset_version_id"],
                ["id"],
                ondelete="CASCADE",
            )
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_dataset_id_datasets"),
                "datasets",
                ["dataset_id"],
                ["id"],
                ondelete="CASCADE",
            )
    op.drop_index("uq_dataset_versions_dataset_id_id", table_name="dataset_versions")
