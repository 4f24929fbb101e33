"""Alembic builds the schema the models describe, on both backends, with no drift."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from lineage import service
from lineage.db.migrate import upgrade_head
from lineage.db.models import Base, Dataset, DatasetVersion, RunInput
from lineage.db.session import make_engine, session_scope


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


def test_an_edge_cannot_name_another_datasets_version(maker, golden) -> None:
    """Run edges reference (dataset, version) as one key: a version of another dataset fails."""
    with session_scope(maker) as s:
        service.ingest_event(s, golden("ingest_complete"))  # two datasets, a version of each
    with session_scope(maker) as s:
        raw_ds, offline_ds = (
            s.scalar(select(Dataset.id).where(Dataset.name == name))
            for name in ("raw/customer_transactions", "offline/customer_transactions")
        )
        offline_version = s.scalar(
            select(DatasetVersion.id).where(DatasetVersion.dataset_id == offline_ds)
        )
        run = s.scalar(select(RunInput.run_id))
    with pytest.raises(IntegrityError), session_scope(maker) as s:
        s.execute(
            insert(RunInput).values(
                run_id=run,
                dataset_id=raw_ds,
                dataset_version_id=offline_version,
                version_source="facet",
            )
        )
