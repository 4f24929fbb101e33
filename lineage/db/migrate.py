"""Run the lineage database's Alembic migrations programmatically, from any working directory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from lineage.db.session import normalize_url

REPO_ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str) -> Config:
    """Build an Alembic config pointing at ``migrations/`` and ``database_url``.

    Args:
        database_url: The database to migrate.

    Returns:
        A config whose ``attributes["url"]`` carries the URL (never written to a file).

    """
    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    config.attributes["url"] = normalize_url(database_url)
    config.attributes["configure_logger"] = False
    return config


def upgrade_head(database_url: str) -> None:
    """Apply every migration up to ``head`` (``alembic upgrade head``) to ``database_url``.

    Args:
        database_url: A SQLAlchemy URL; a SQLite file's folder is created if missing.

    """
    command.upgrade(alembic_config(database_url), "head")
