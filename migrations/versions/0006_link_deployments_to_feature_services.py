"""link a deployment to the feature-service node it serves from

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

A deployment named its feature service only as text, so nothing checked that the service
existed and no query could go from a feature view to the deployments that serve it online.
``feature_service_id`` references the ``feature_service/<name>`` dataset; the text stays as
the name given. Existing rows are linked where the node exists in the Skewless namespace.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "feature_service_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch_op.create_index(
            batch_op.f("ix_deployments_feature_service_id"), ["feature_service_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_deployments_feature_service_id_datasets"),
            "datasets",
            ["feature_service_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.execute(
        "UPDATE deployments SET feature_service_id = (SELECT d.id FROM datasets d"
        " WHERE d.namespace = 'skewless'"
        " AND d.name = 'feature_service/' || deployments.feature_service)"
        " WHERE feature_service IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_deployments_feature_service_id_datasets"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_deployments_feature_service_id"))
        batch_op.drop_column("feature_service_id")
