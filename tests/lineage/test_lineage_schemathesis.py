"""Schemathesis (property-based, from the OpenAPI schema) against the lineage app on SQLite:
every operation, with an admin token and bounded examples; no input may produce a server error.

The schema is loaded at collection (schemathesis' lazy ``from_fixture`` does not run on pytest 9),
which needs no database; the database is migrated and seeded by a module fixture before any case.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import update

from lineage import access
from lineage.api import create_app
from lineage.db.migrate import upgrade_head
from lineage.db.models import Token
from lineage.db.session import make_engine, make_sessionmaker, session_scope
from lineage.settings import LineageSettings

TOKEN = "skl_schemathesis-admin-token-0123456789abcdef"
FOLDER = Path(tempfile.mkdtemp(prefix="lineage-schemathesis-"))
URL = f"sqlite:///{FOLDER / 'lineage.db'}"
APP = create_app(LineageSettings(database_url=URL, max_body_bytes=64 * 1024, max_depth=10))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def database() -> Iterator[None]:
    upgrade_head(URL)
    engine = make_engine(URL)
    with session_scope(make_sessionmaker(engine)) as session:
        access.ensure_token(session, "st-admin", "admin", TOKEN)
    engine.dispose()
    yield
    shutil.rmtree(FOLDER, ignore_errors=True)


def _keep_admin_token_live() -> None:
    engine = make_engine(URL)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(Token)
                .where(Token.token_hash == access.hash_token(TOKEN))
                .values(revoked_at=None)
            )
    finally:
        engine.dispose()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error(case: schemathesis.Case) -> None:
    _keep_admin_token_live()  # DELETE /api/v1/tokens/{id} may have revoked it
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error]
    )
