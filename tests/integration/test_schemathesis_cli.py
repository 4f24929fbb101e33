"""Schemathesis' CLI, every check (``--checks all``), against both servers as real processes.

Each server is started the way a user starts it (``skewless lineage serve``, ``skewless serve``)
on a free port with a token, and polled for readiness with a deadline; ``schemathesis run``
then generates requests from the published OpenAPI document, positive and negative, and fails
on a server error, an undocumented status, a response off its schema, a 405 without ``Allow``,
invalid data accepted or valid data refused. Examples per operation are bounded and the seed is
fixed, so the run is reproducible and both servers take well under two minutes together.
``tests/schemathesis.toml`` lists the operations whose bodies name stored objects (a 422 there
is an answer about data, not about the request's shape).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from bench.http import free_port, server
from lineage import access, token_admin
from lineage.db.migrate import upgrade_head
from lineage.db.models import Token, TokenGrant
from lineage.db.session import make_engine, make_sessionmaker, session_scope
from services.settings import Settings
from services.store import Store, load_definitions

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG = REPO_ROOT / "tests" / "schemathesis.toml"
EXAMPLES = 15  # per operation and phase
SEED = 20261204
TOKEN = "skl_schemathesis-admin-token-0123456789abcdef"
# DELETE /api/v1/tokens/{id} is fuzzed too: the run's own token gets an id no draw will hit
# (draws favour small numbers and the type's bounds), so the run never revokes itself.
ADMIN_TOKEN_ID = 4_611_686_018_427_387_917


def _schemathesis(port: int, token: str, log: Path) -> None:
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert binary is not None, "schemathesis is a dev dependency (uv sync)"
    args = [
        binary,
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        f"http://127.0.0.1:{port}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        # One worker: CPython 3.11's ast is not thread-safe ("AST constructor recursion depth
        # mismatch", gh-106905), and schemathesis's workers are threads that compile regexes.
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {token}",
    ]
    done = subprocess.run(
        args, cwd=log.parent, capture_output=True, text=True, timeout=300, check=False
    )
    log.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, f"schemathesis found failures (full log: {log}):\n" + (
        done.stdout[-6000:] + done.stderr[-2000:]
    )


def test_the_lineage_api_passes_every_schemathesis_check(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lineage.db'}"
    upgrade_head(url)
    engine = make_engine(url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            token_admin.ensure_token(session, "schemathesis", "admin", TOKEN)
            # Moved out of reach of the ids the fuzzer tries (it would revoke itself); its
            # grants move with it (they reference the id).
            token = session.scalars(
                select(Token).where(Token.token_hash == access.hash_token(TOKEN))
            ).one()
            grants = session.scalars(
                select(TokenGrant.namespace).where(TokenGrant.token_id == token.id)
            ).all()
            session.execute(delete(TokenGrant).where(TokenGrant.token_id == token.id))
            session.execute(update(Token).where(Token.id == token.id).values(id=ADMIN_TOKEN_ID))
            for namespace in grants:
                session.add(TokenGrant(token_id=ADMIN_TOKEN_ID, namespace=namespace))
    finally:
        engine.dispose()
    port = free_port()
    env = {"LINEAGE_DATABASE_URL": url, "LINEAGE_BOOTSTRAP_ADMIN_TOKEN": ""}
    cmd = [sys.executable, "-m", "services.cli", "lineage", "serve", "--port", str(port)]
    with server(cmd, env, port, tmp_path / "serve.log", REPO_ROOT, ready_path="/health"):
        _schemathesis(port, TOKEN, tmp_path / "schemathesis.log")


def test_the_feature_server_api_passes_every_schemathesis_check(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    token = "schemathesis-serve-token-0123456789abcdef"
    settings = make_settings("sqlite", serve_token=token)
    store = Store(settings)
    store.apply(load_definitions(settings.repo_path))
    store.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k.startswith("SKEWLESS_")}
    cmd = [sys.executable, "-m", "services.cli", "serve", "--port", str(port)]
    with server(cmd, env, port, tmp_path / "serve.log", REPO_ROOT, ready_path="/health"):
        _schemathesis(port, token, tmp_path / "schemathesis.log")
