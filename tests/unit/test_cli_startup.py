"""The command line starts without the heavy libraries: --help and usage errors are instant.

Feast, pandas, SQLAlchemy, Alembic, DuckDB and PyArrow are imported when a command runs, never
to print help or refuse a flag (#17's 0.5 s target; timed in bench/, checked here by what is
imported, which does not depend on the machine's load).
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("feast", "pandas", "sqlalchemy", "alembic", "duckdb", "pyarrow", "httpx", "psycopg")

PROBE = f"""
import json, sys
from services.cli import app
from typer.testing import CliRunner
result = CliRunner().invoke(app, sys.argv[1:])
print(json.dumps({{"code": result.exit_code, "loaded": sorted(
    m for m in {HEAVY!r} if m in sys.modules)}}))
"""


def _run(*args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_help_and_usage_errors_import_nothing_heavy() -> None:
    for args in (["--help"], ["lineage", "--help"], ["online", "--bogus"], ["--version"]):
        found = _run(*args)
        assert found["loaded"] == [], (args, found)
    assert _run("online", "--bogus")["code"] == 2
