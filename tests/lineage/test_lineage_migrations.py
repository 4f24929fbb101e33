"""Alembic builds the schema the models describe, on both backends, with no drift."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lineage.db.migrate import upgrade_head
from lineage.db.models import Base
from lineage.db.session import make_engine


def test_autogenerate_finds_no_drift(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_upgrade_head_is_repeatable(db_url: str) -> None:
    upgrade_head(db_url)
    upgrade_head(db_url)


def test_upgrade_head_creates_a_new_sqlite_file(tmp_path) -> None:
    target = tmp_path / "nested" / "lineage.db"
    upgrade_head(f"sqlite:///{target}")
    assert target.exists()
