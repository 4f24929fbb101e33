"""A lineage database the CLI cannot use: one line on stderr saying what and what to do, exit 3.

``serve`` and ``migrate`` run as real processes (the way a user meets them); the other commands
run in process. Each case points at a real PostgreSQL server (a database that does not exist, a
port nothing listens on) or a real SQLite file that was never migrated.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lineage.cli import app as cli_app
from tests.integration.serving.conftest import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def _missing_database() -> tuple[str, str]:
    name = f"lineage_absent_{uuid.uuid4().hex[:12]}"
    return name, f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKEWLESS_", "LINEAGE_"))}
    env["LINEAGE_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "lineage", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.integration
@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_serve_and_migrate_on_a_missing_postgresql_database_say_so_in_one_line(
    command: str,
) -> None:
    name, url = _missing_database()
    done = _run(url, command, *(["--port", str(free_port())] if command == "serve" else []))
    assert done.returncode == 3, done.stderr
    assert _one_line(done.stderr) == (
        f'error: lineage database "{name}" at 127.0.0.1:5432 does not exist: create it '
        f"(createdb -h 127.0.0.1 -p 5432 -U postgres {name}) then run skewless lineage migrate"
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    "command",
    [["summary"], ["token", "create", "--principal", "p", "--role", "admin"], ["token", "list"]],
)
def test_commands_on_a_missing_postgresql_database_say_so_in_one_line(
    command: list[str],
) -> None:
    name, url = _missing_database()
    result = CliRunner().invoke(cli_app, command, env={"LINEAGE_DATABASE_URL": url})
    assert result.exit_code == 3, result.output
    assert _one_line(result.stderr).startswith(
        f'error: lineage database "{name}" at 127.0.0.1:5432 does not exist: create it'
    )
    assert result.stdout == ""


@pytest.mark.integration
def test_a_postgresql_server_that_does_not_answer_is_one_line_and_exit_3() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/lineage"
    result = CliRunner().invoke(cli_app, ["summary"], env={"LINEAGE_DATABASE_URL": url})
    assert result.exit_code == 3, result.output
    line = _one_line(result.stderr)
    assert line.startswith("error: lineage database at 127.0.0.1:")
    assert "does not answer" in line
    assert line.endswith("start PostgreSQL there or point LINEAGE_DATABASE_URL at a running server")


def test_an_unmigrated_sqlite_database_says_run_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lineage.db'}"
    result = CliRunner().invoke(cli_app, ["summary"], env={"LINEAGE_DATABASE_URL": url})
    assert result.exit_code == 3, result.output
    line = _one_line(result.stderr)
    assert line.startswith(f"error: lineage database file {tmp_path / 'lineage.db'} has no")
    assert line.endswith(": run skewless lineage migrate")
    migrated = _run(url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert (
        CliRunner()
        .invoke(cli_app, ["summary", "--json"], env={"LINEAGE_DATABASE_URL": url})
        .exit_code
        == 0
    )


def test_a_sqlite_folder_that_cannot_be_created_is_one_line_and_exit_3(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    url = f"sqlite:///{blocker / 'lineage.db'}"
    result = CliRunner().invoke(cli_app, ["summary"], env={"LINEAGE_DATABASE_URL": url})
    assert result.exit_code == 3, result.output
    assert _one_line(result.stderr).startswith(f"error: lineage database folder {blocker}")
