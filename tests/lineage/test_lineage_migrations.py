"""Alembic builds the schema the models describe, on both backends, with no drift."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from lineage import service
from lineage.db.migrate import alembic_config, upgrade_head
from lineage.db.models import Base, Dataset, DatasetVersion, RunInput
from lineage.db.session import make_engine, session_scope

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


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


def test_0006_links_deployments_recorded_before_it(fresh_url: str) -> None:
    """Deployments that named a known feature service as text get their link; others stay null."""
    command.upgrade(alembic_config(fresh_url), "0005")
    engine = make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            now = datetime.now(UTC).isoformat()
            conn.execute(
                text(
                    "INSERT INTO datasets (id, namespace, name, facets, created_at, updated_at)"
                    " VALUES (7, 'skewless', 'feature_service/fraud', '{}', :t, :t)"
                ),
                {"t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO models (id, name, namespace, created_at)"
                    " VALUES (1, 'm', 'skewless', :t)"
                ),
                {"t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO model_versions (id, model_id, version, training_set_version,"
                    " metrics, created_at) VALUES (1, 1, '1', 'ts', '{}', :t)"
                ),
                {"t": now},
            )
            for i, (env, fs) in enumerate([("prod", "fraud"), ("dev", "gone"), ("ci", None)]):
                conn.execute(
                    text(
                        "INSERT INTO deployments (id, model_version_id, environment, deployed_at,"
                        " feature_service) VALUES (:i, 1, :e, :t, :f)"
                    ),
                    {"i": i + 1, "e": env, "t": now, "f": fs},
                )
        upgrade_head(fresh_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT environment, feature_service_id FROM deployments ORDER BY id")
            ).all()
        assert [tuple(r) for r in rows] == [("prod", 7), ("dev", None), ("ci", None)]
    finally:
        engine.dispose()


def test_0007_gives_each_token_its_principals_role_and_grants_and_back(fresh_url: str) -> None:
    """Tokens issued before 0007 keep what they could do: their principal's role and grants.

    Going back, a principal takes the role of its newest live token (what the old schema last
    recorded) and the grants of all its tokens.
    """
    command.upgrade(alembic_config(fresh_url), "0006")
    engine = make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            t = datetime.now(UTC).isoformat()
            conn.execute(
                text(
                    "INSERT INTO principals (id, name, role, created_at) VALUES"
                    " (1, 'alice', 'admin', :t), (2, 'bob', 'consumer', :t)"
                ),
                {"t": t},
            )
            conn.execute(
                text(
                    "INSERT INTO grants (principal_id, namespace) VALUES"
                    " (1, '*'), (2, 'skewless'), (2, 'finance')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO tokens (id, principal_id, token_hash, created_at, revoked_at)"
                    " VALUES (1, 1, 'h1', :t, NULL), (2, 1, 'h2', :t, :t), (3, 2, 'h3', :t, NULL)"
                ),
                {"t": t},
            )
        upgrade_head(fresh_url)
        with engine.connect() as conn:
            roles = conn.execute(text("SELECT id, role FROM tokens ORDER BY id")).all()
            grants = conn.execute(
                text("SELECT token_id, namespace FROM token_grants ORDER BY token_id, namespace")
            ).all()
        assert [tuple(r) for r in roles] == [(1, "admin"), (2, "admin"), (3, "consumer")]
        assert [tuple(g) for g in grants] == [
            (1, "*"),
            (2, "*"),
            (3, "finance"),
            (3, "skewless"),
        ]
        with engine.begin() as conn:  # issued after 0007: bob's newest live token, a producer
            conn.execute(
                text(
                    "INSERT INTO tokens (id, principal_id, token_hash, created_at, role)"
                    " VALUES (4, 2, 'h4', :t, 'producer')"
                ),
                {"t": datetime.now(UTC).isoformat()},
            )
            conn.execute(text("INSERT INTO token_grants (token_id, namespace) VALUES (4, 'ml')"))
        command.downgrade(alembic_config(fresh_url), "0006")
        with engine.connect() as conn:
            roles = conn.execute(text("SELECT name, role FROM principals ORDER BY id")).all()
            grants = conn.execute(
                text("SELECT principal_id, namespace FROM grants ORDER BY principal_id, namespace")
            ).all()
        assert [tuple(r) for r in roles] == [("alice", "admin"), ("bob", "producer")]
        assert [tuple(g) for g in grants] == [(1, "*"), (2, "finance"), (2, "ml"), (2, "skewless")]
    finally:
        engine.dispose()
