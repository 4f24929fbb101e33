"""``skewless lineage serve`` starts with a revoked bootstrap token, and exits when start-up fails.

Regression: the bootstrap admin token was looked up among live tokens only, so once revoked it
was inserted again, the insert broke the unique token hash and start-up failed; the intake
writer, started before, was never stopped, so the process hung instead of exiting. The server
runs as a real process on each backend; every wait has a deadline, so a hang fails the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import text

from bench.http import free_port, server
from lineage import token_admin
from lineage.api.app import BOOTSTRAP_PRINCIPAL
from lineage.db.migrate import upgrade_head
from lineage.db.session import make_engine, make_sessionmaker, session_scope

REPO_ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = "bootstrap-token-" + "a" * 32
EXIT_DEADLINE_S = 60


def _serve(port: int) -> list[str]:
    return [sys.executable, "-m", "services.cli", "lineage", "serve", "--port", str(port)]


def _env(url: str) -> dict[str, str]:
    return {
        "LINEAGE_DATABASE_URL": url,
        "LINEAGE_BOOTSTRAP_ADMIN_TOKEN": BOOTSTRAP,
        "LINEAGE_INTAKE_WRITER": "process",
    }


def _revoked_bootstrap(url: str) -> None:
    """The database as a first start leaves it, after an admin revoked the bootstrap token."""
    upgrade_head(url)
    engine = make_engine(url)
    try:
        maker = make_sessionmaker(engine)
        with session_scope(maker) as session:
            token_admin.ensure_token(session, BOOTSTRAP_PRINCIPAL, "admin", BOOTSTRAP)
        with session_scope(maker) as session:
            token_id = token_admin.list_tokens(session)[0].id
            token_admin.revoke_token(session, token_id)
    finally:
        engine.dispose()


def test_a_revoked_bootstrap_token_stays_revoked_and_the_server_starts(
    fresh_url: str, tmp_path: Path
) -> None:
    _revoked_bootstrap(fresh_url)
    port = free_port()
    log = tmp_path / "serve.log"
    with server(_serve(port), _env(fresh_url), port, log, REPO_ROOT, ready_path="/health"):
        answer = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/tokens",
            headers={"Authorization": f"Bearer {BOOTSTRAP}"},
            timeout=30,
        )
    assert answer.status_code == 401, answer.text
    said = log.read_text()
    assert "Traceback" not in said
    revoked = [line for line in said.splitlines() if "revoked" in line]
    assert revoked == [
        "LINEAGE_BOOTSTRAP_ADMIN_TOKEN was revoked: it stays revoked and was not re-created "
        "(use another admin token, or set a new bootstrap token)"
    ]
    engine = make_engine(fresh_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            tokens = token_admin.list_tokens(session)
    finally:
        engine.dispose()
    assert [(t.principal, t.revoked_at is not None) for t in tokens] == [
        (BOOTSTRAP_PRINCIPAL, True)
    ]


def _refuse_new_principals(url: str) -> None:
    """A real database refusal of the bootstrap token's insert, after the intake writer is up."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.execute(
                    text(
                        "CREATE TRIGGER refuse BEFORE INSERT ON principals "
                        "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                    )
                )
                return
            conn.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON principals "
                    "FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
    finally:
        engine.dispose()


def test_a_start_up_failure_after_the_intake_writer_started_exits_non_zero(
    fresh_url: str, tmp_path: Path
) -> None:
    upgrade_head(fresh_url)
    _refuse_new_principals(fresh_url)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            _serve(free_port()),
            cwd=REPO_ROOT,
            env={**os.environ, **_env(fresh_url)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=EXIT_DEADLINE_S)
        finally:
            if proc.poll() is None:  # it hung: stop it and its intake writer
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
    said = log.read_text()
    assert code != 0, said
    assert "refused by the test" in said
