"""A throwaway PostgreSQL database per test or session, on the machine's real server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@contextmanager
def temporary_database(prefix: str) -> Iterator[str]:
    """Create an empty database named ``<prefix>_<random>``; yield its SQLAlchemy URL; drop it."""
    name = f"{prefix}_{uuid.uuid4().hex}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
