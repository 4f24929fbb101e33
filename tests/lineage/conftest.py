"""Fixtures for the lineage tests: real SQLite and PostgreSQL databases built by Alembic.

Each backend database is created once per session by ``upgrade_head`` and emptied before every
test. PostgreSQL gets a uniquely named database on 127.0.0.1:5432, dropped at teardown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session, sessionmaker

from lineage import token_admin
from lineage.api import create_app
from lineage.db.migrate import upgrade_head
from lineage.db.models import AuditHead, Base
from lineage.db.session import make_engine, make_sessionmaker, session_scope
from lineage.settings import LineageSettings
from tests.pg import temporary_database

FIXTURES = Path(__file__).parents[1] / "fixtures"  # golden OpenLineage events


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('lineage') / 'lineage.db'}"
    upgrade_head(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    with temporary_database("lineage_test") as url:
        upgrade_head(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each backend, not migrated yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'lineage.db'}"
        return
    with temporary_database("lineage_test") as url:
        yield url


def _empty(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(delete(table))
            conn.execute(insert(AuditHead).values(id=1, last_id=0, last_hash="0" * 64))
    finally:
        engine.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)],
)
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty, migrated database on each backend."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    _empty(url)
    return url


@pytest.fixture
def maker(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def session(maker: sessionmaker[Session]) -> Iterator[Session]:
    with session_scope(maker) as s:
        yield s


@pytest.fixture
def golden() -> Callable[[str], dict[str, Any]]:
    def load(name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
        return data

    return load


@pytest.fixture
def make_token(maker: sessionmaker[Session]) -> Callable[..., str]:
    def create(principal: str, role: str, *namespaces: str) -> str:
        with session_scope(maker) as s:
            return token_admin.create_token(s, principal, role, namespaces)

    return create


@pytest.fixture
def settings(db_url: str) -> LineageSettings:
    # The intake writer as a thread here; tests over a real socket use the process writer.
    return LineageSettings(
        database_url=db_url, max_body_bytes=64 * 1024, max_depth=10, intake_writer="thread"
    )


@pytest.fixture
def client(settings: LineageSettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c
