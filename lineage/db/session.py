"""Engines and sessions for the lineage database (SQLite file or PostgreSQL).

Owns connection set-up: SQLite gets WAL, a busy timeout, foreign keys and ``BEGIN IMMEDIATE`` so
writers serialize instead of failing on lock upgrades; PostgreSQL uses psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

CONNECT_TIMEOUT_S = 10


def normalize_url(url: str) -> str:
    """Map ``postgresql://``/``postgres://`` URLs to the psycopg 3 driver.

    Args:
        url: A SQLAlchemy database URL.

    Returns:
        The URL with an explicit driver where one was implied.

    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit BEGIN breaks SAVEPOINT).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, pre_ping: bool = True) -> Engine:
    """Create an engine for ``url``, creating the parent folder of a SQLite file.

    Args:
        url: A SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``).
        pre_ping: Test a pooled PostgreSQL connection before each use (a round trip per
            transaction). The intake writer turns it off and retries a batch whose connection
            turned out dead instead.

    Returns:
        A configured engine.

    """
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    # A server that drops packets instead of refusing would hold a connect for minutes: give up
    # after CONNECT_TIMEOUT_S, so requests are answered 503 and commands exit, unless the URL
    # sets its own connect_timeout.
    connect_args = (
        {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT_S}
    )
    return create_engine(url, pool_pre_ping=pre_ping, connect_args=connect_args)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory bound to ``engine`` (objects stay usable after commit)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit on success, roll back on any error, always close.

    Args:
        factory: The session factory.

    Yields:
        A session inside one transaction.

    """
    with committed(factory()) as session:
        yield session


@contextmanager
def committed(session: Session) -> Iterator[Session]:
    """Commit ``session`` on success, roll back on any error, always close it."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
