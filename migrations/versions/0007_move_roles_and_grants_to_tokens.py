"""move roles and grants from principals to the tokens issued with them

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

A principal held one role and one set of grants, so issuing a token to an existing principal
rewrote what every other token of that principal could do (a consumer token became an admin
one). A token now carries the role and the grants it was issued with. Each existing token gets
its principal's role and grants, so nothing any live token may do changes.

Going back, a principal takes the role of its newest live token (else of its newest token), which
is what the old schema last recorded, and the grants of all its tokens.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE tokens SET role ="
        " (SELECT p.role FROM principals p WHERE p.id = tokens.principal_id)"
    )
    # On SQLite this copies ``tokens`` into a new table and drops the old one, which would
    # cascade to rows referencing it (foreign keys are on): done before anything does.
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.alter_column("role", existing_type=sa.String(length=16), nullable=False)
    op.create_table(
        "token_grants",
        sa.Column("token_id", BIG_ID, nullable=False),
        sa.Column("namespace", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["tokens.id"],
            name=op.f("fk_token_grants_token_id_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_id", "namespace", name=op.f("pk_token_grants")),
    )
    op.execute(
        "INSERT INTO token_grants (token_id, namespace)"
        " SELECT t.id, g.namespace FROM tokens t JOIN grants g ON g.principal_id = t.principal_id"
    )
    op.drop_table("grants")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch copy: dropping the old
    # ``principals`` would cascade to every token.
    op.drop_column("principals", "role")


def downgrade() -> None:
    # A native ADD COLUMN for the same reason; NOT NULL needs a default there, dropped again
    # where ALTER can (SQLite keeps it; upgrading again drops the column).
    op.add_column(
        "principals",
        sa.Column("role", sa.String(length=16), nullable=False, server_default="consumer"),
    )
    op.execute(
        "UPDATE principals SET role = COALESCE((SELECT t.role FROM tokens t"
        " WHERE t.principal_id = principals.id"
        " ORDER BY CASE WHEN t.revoked_at IS NULL THEN 0 ELSE 1 END, t.id DESC LIMIT 1),"
        " 'consumer')"
    )
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("principals", "role", server_default=None)
    op.create_table(
        "grants",
        sa.Column("principal_id", BIG_ID, nullable=False),
        sa.Column("namespace", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_grants_principal_id_principals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("principal_id", "namespace", name=op.f("pk_grants")),
    )
    op.execute(
        "INSERT INTO grants (principal_id, namespace)"
        " SELECT DISTINCT t.principal_id, g.namespace"
        " FROM token_grants g JOIN tokens t ON t.id = g.token_id"
    )
    op.drop_table("token_grants")
    op.drop_column("tokens", "role")
