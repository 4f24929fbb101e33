"""Bad settings and a bad ``feature_store.yaml`` are one line and exit 2, on every command.

Settings are read in one place (``services.cli_common.settings_for``); these run the real
``skewless`` commands over variables and repositories a user gets wrong, and expect one line
naming the variable or the file (and where in it), never a traceback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from services.settings import reset_settings

runner = CliRunner()

COMMANDS = (
    ["apply"],
    ["online", "--service", "fraud_detection_v1", "--entity", "customer_id=1"],
    ["ingest", "customer_profile", "nowhere.parquet"],
    ["materialize"],
    ["audit", "freshness"],
    ["training-set", "--service", "fraud_detection_v1", "--entities", "e.csv", "--out", "o.pq"],
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """A clean environment with a data dir and project of the test's own; ``env(NAME=value)``."""
    for name in list(os.environ):
        if name.startswith(("SKEWLESS_", "LINEAGE_")) or name == "REDIS_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("SKEWLESS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SKEWLESS_PROJECT", f"t{uuid.uuid4().hex[:12]}")

    def set_env(**variables: str | None) -> None:
        for name, value in variables.items():
            if value is None:
                monkeypatch.delenv(name)
            else:
                monkeypatch.setenv(name, value)
        reset_settings()

    reset_settings()
    yield set_env
    reset_settings()


def _one_line_exit_2(args: list[str], *said: str) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code == 2, (args, r.output, r.exception)
    assert "Traceback" not in r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, (args, r.output)
    assert lines[0].startswith("error: "), lines
    for text in said:
        assert text in lines[0], (args, text, lines[0])
    return lines[0]


@pytest.mark.parametrize(
    ("variables", "said"),
    [
        ({"SKEWLESS_ONLINE_STORE": "redis", "REDIS_URL": "notaurl"}, ["REDIS_URL", "redis://"]),
        ({"SKEWLESS_ONLINE_STORE": "redis", "REDIS_URL": "redis://h:port/0"}, ["REDIS_URL"]),
        *(
            ({"SKEWLESS_REGISTRY_URL": f"{s}://u@h/db"}, ["SKEWLESS_REGISTRY_URL", f"{s}://"])
            for s in ("postgres", "bogus", "mysql")
        ),
        ({"SKEWLESS_PROJECT": "bad name!"}, ["SKEWLESS_PROJECT", "'bad name!'"]),
        ({"SKEWLESS_PROJECT": "hyphen-ated"}, ["SKEWLESS_PROJECT", "hyphens"]),
        ({"SKEWLESS_SERVE_MAX_ENTITIES": "-1"}, ["SKEWLESS_SERVE_MAX_ENTITIES"]),
        ({"SKEWLESS_SERVE_MAX_ENTITIES": "0"}, ["SKEWLESS_SERVE_MAX_ENTITIES"]),
        ({"SKEWLESS_SERVE_MAX_BODY_BYTES": "0"}, ["SKEWLESS_SERVE_MAX_BODY_BYTES"]),
        ({"SKEWLESS_REDIS_TIMEOUT_S": "0"}, ["SKEWLESS_REDIS_TIMEOUT_S"]),
    ],
)
def test_a_bad_variable_is_one_line_naming_it_on_every_command(
    env: Callable[..., None], variables: dict[str, str], said: list[str]
) -> None:
    env(**variables)
    for args in COMMANDS:
        _one_line_exit_2(args, "invalid settings", *said)


def test_the_registry_error_says_which_schemes_work(env: Callable[..., None]) -> None:
    env(SKEWLESS_REGISTRY_URL="postgres://user:secret@db/skewless")
    line = _one_line_exit_2(["apply"], "postgresql+psycopg://", "sqlite://")
    assert "secret" not in line


def test_a_data_dir_that_cannot_be_made_is_one_line(
    env: Callable[..., None], tmp_path: Path
) -> None:
    (tmp_path / "a_file").write_text("not a directory")
    env(SKEWLESS_DATA_DIR=str(tmp_path / "a_file" / "data"))
    for args in COMMANDS:
        _one_line_exit_2(args, "SKEWLESS_DATA_DIR", str(tmp_path / "a_file" / "data"))


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("project: [unclosed\n", ["line 2, column 1", "line 1, column 10", "not valid YAML"]),
        ("project: x\n: :\n", ["line 2, column 1", "not valid YAML"]),
        ("project: y\nonline_store: {type: postgres}\n", ["'postgres' is not supported"]),
        ('project: "bad name"\n', ["project: 'bad name' is not a Feast project name"]),
        ("project: y\nregistry: postgres://u@h/db\n", ["registry: postgres://", "psycopg"]),
    ],
)
def test_a_bad_feature_store_yaml_is_one_line_naming_the_file(
    env: Callable[..., None], tmp_path: Path, text: str, said: list[str]
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "feature_store.yaml").write_text(text)
    env(SKEWLESS_REPO_PATH=str(repo), SKEWLESS_PROJECT=None)  # the yaml names the project
    for args in COMMANDS:
        _one_line_exit_2(args, f"error: {repo / 'feature_store.yaml'}: ", *said)


def _serve(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """The real ``skewless serve``; it must refuse, not listen (the timeout fails the test)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SKEWLESS_", "LINEAGE_"))}
    variables = {"SKEWLESS_DATA_DIR": str(tmp_path / "data"), **variables}
    return subprocess.run(
        [str(Path(sys.executable).parent / "skewless"), "serve", *args],
        env={**keep, "SKEWLESS_PROJECT": f"t{uuid.uuid4().hex[:12]}", **variables},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_refuses_a_port_out_of_range(tmp_path: Path) -> None:
    for port in ("99999", "0"):
        done = _serve(tmp_path, "--port", port)
        assert done.returncode == 2, (port, done.stderr)
        assert "--port" in done.stderr


@pytest.mark.parametrize(
    ("variables", "name"),
    [
        ({"SKEWLESS_ONLINE_STORE": "redis", "REDIS_URL": "notaurl"}, "REDIS_URL"),
        ({"SKEWLESS_SERVE_MAX_ENTITIES": "-1"}, "SKEWLESS_SERVE_MAX_ENTITIES"),
    ],
)
def test_serve_refuses_bad_settings_before_it_starts(
    tmp_path: Path, variables: dict[str, str], name: str
) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = str(free.getsockname()[1])
    done = _serve(tmp_path, "--port", port, **variables)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert name in lines[0], done.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["materialize", "--start", "2026-01-02", "--end", "2026-01-01"], ["is after --end"]),
        (["materialize", "--start", "2026-01-02"], ["--start and --end together"]),
    ],
)
def test_a_materialize_window_that_is_no_window_is_one_line(
    env: Callable[..., None], args: list[str], said: list[str]
) -> None:
    """A window ending before it starts used to materialize nothing and exit 0."""
    _one_line_exit_2(args, *said)
