"""The command line starts without the heavy libraries: --help and usage errors are instant.

Feast, pandas, SQLAlchemy, Alembic, DuckDB and PyArrow are imported when a command runs, never
to print help or refuse a flag (#17's 0.5 s target; timed in bench/, checked here by what is
imported, which does not depend on the machine's load).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

HEAVY = ("feast", "pandas", "sqlalchemy", "alembic", "duckdb", "pyarrow", "httpx", "psycopg")
# What a command that reads the store may still not need: the repository's machinery.
REPOSITORY = ("feast", "pandas", "pandera", "duckdb", "sqlalchemy")

PROBE = f"""
import json, sys
from services.cli import app
from typer.testing import CliRunner
result = CliRunner().invoke(app, sys.argv[1:])
print(json.dumps({{"code": result.exit_code, "output": result.stdout, "loaded": sorted(
    m for m in {HEAVY + REPOSITORY!r} if m in sys.modules)}}))
"""


def _run(*args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        check=True,
        env=None if env is None else {**os.environ, **env},
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_help_and_usage_errors_import_nothing_heavy() -> None:
    for args in (["--help"], ["lineage", "--help"], ["online", "--bogus"], ["--version"]):
        found = _run(*args)
        assert found["loaded"] == [], (args, found)
    assert _run("online", "--bogus")["code"] == 2


def test_datasets_of_a_source_with_versions_reads_only_the_manifests(tmp_path: Path) -> None:
    """The versions' footers answer; the repository (Feast, Pandera, pandas) is not loaded."""
    from bench.contracts import BenchUserActivity
    from services.ingestion.conform import Failures, conform
    from services.offline.datasets import list_versions, write_version
    from services.settings import Settings
    from tests.unit.test_conform_and_hash import activity_rows

    offline = Settings(data_dir=tmp_path, project="startup").offline_dir  # the project's folder
    for seed in (1, 2):
        frame = conform(activity_rows(5, seed), BenchUserActivity, Failures())
        write_version(offline, BenchUserActivity, frame, quarantined=1, received=6)
    found = _run(
        "datasets",
        "bench_user_activity",
        "--json",
        env={"SKEWLESS_DATA_DIR": str(tmp_path), "SKEWLESS_PROJECT": "startup"},
    )
    assert found["code"] == 0
    assert found["loaded"] == ["pyarrow"]
    expected = [asdict(v) for v in list_versions(offline, "bench_user_activity")]
    assert len(expected) == 2
    assert json.loads(str(found["output"])) == expected


def test_datasets_of_an_unknown_source_still_names_the_known_ones(tmp_path: Path) -> None:
    found = _run("datasets", "no_such_source", env={"SKEWLESS_DATA_DIR": str(tmp_path)})
    assert found["code"] == 2
