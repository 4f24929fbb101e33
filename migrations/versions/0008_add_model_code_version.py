"""add the code version a model version was registered from

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

Provenance named the code of every run but not of the model itself: a model version now keeps
the code version it was registered with (the Feast repository's git commit, ``-dirty`` when its
files differed), null when none was given.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite too): a batch copy of model_versions would cascade to
    # the deployments that reference it.
    op.add_column("model_versions", sa.Column("code_version", sa.String(length=200), nullable=True))


def downgrade() -> None:
    op.drop_column("model_versions", "code_version")  # SQLite >= 3.35 drops in place
