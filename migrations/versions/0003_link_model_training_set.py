"""link each model version to exactly one training-set dataset version

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Existing rows are linked where their version string names exactly one training-set version;
the others (unknown or ambiguous) keep a null link rather than a guessed one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MATCHES = """
    FROM dataset_versions dv JOIN datasets d ON d.id = dv.dataset_id
    WHERE dv.version = model_versions.training_set_version
      AND substr(d.name, 1, 13) = 'training_set/'
"""


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "training_set_version_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_model_versions_training_set_version_id_dataset_versions"),
            "dataset_versions",
            ["training_set_version_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_model_versions_training_set_version_id"),
            ["training_set_version_id"],
            unique=False,
        )
    op.execute(
        f"UPDATE model_versions SET training_set_version_id = (SELECT min(dv.id) {_MATCHES})"
        f" WHERE (SELECT count(*) {_MATCHES}) = 1"
    )


def downgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_versions_training_set_version_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_model_versions_training_set_version_id_dataset_versions"),
            type_="foreignkey",
        )
        batch_op.drop_column("training_set_version_id")
