"""Alembic environment for the lineage database.

The URL is taken from, in order: ``config.attributes["url"]`` (set by
``lineage.db.migrate``), ``-x url=...``, ``LINEAGE_DATABASE_URL``, ``sqlalchemy.url``, else the
data plane's SQLite file (``lineage.settings.default_database_url``).
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from lineage.db.models import Base
from lineage.db.session import make_engine, normalize_url
from lineage.settings import default_database_url

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def resolve_url() -> str:
    url = (
        config.attributes.get("url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("LINEAGE_DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
        or default_database_url()
    )
    return normalize_url(str(url))


def run_with_connection(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=resolve_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with_connection(connection)
        return
    engine = make_engine(resolve_url())
    try:
        with engine.connect() as conn:
            run_with_connection(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
