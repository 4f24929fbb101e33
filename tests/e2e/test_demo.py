"""`skewless demo` runs the whole flow in a fresh directory and exits 0."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

pytestmark = pytest.mark.e2e


def _skewless(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``skewless ARGS`` in ``directory`` with its state in ``directory/state``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKEWLESS_", "LINEAGE_"))}
    env["SKEWLESS_DATA_DIR"] = str(directory / "state")
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _demo(directory: Path) -> subprocess.CompletedProcess[str]:
    return _skewless(directory, "demo", "--size", "60")


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    proc = _demo(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "Warning" not in proc.stderr, proc.stderr  # no library's warning on a user's screen
    assert "0 mismatches" in out
    assert "parity: online == offline" in out
    # The lineage step's counts read as words ("runs: 15 COMPLETE"), not a Python dict's repr.
    assert "dataset versions: " in out
    assert "COMPLETE" in out
    assert "{" not in out
    assert (tmp_path / "state" / "offline" / "skewless" / "customer_profile").is_dir()
    assert list((tmp_path / "state" / "quarantine" / "skewless").rglob("*.parquet")), (
        "invalid rows were quarantined"
    )
    # Regression (hardening #22): the demo is re-runnable in the same directory, without errors.
    again = _demo(tmp_path)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "already exists" not in again.stdout + again.stderr
    assert "0 mismatches" in again.stdout

    # Regression: the lineage CLI read ./data/lineage.db whatever SKEWLESS_DATA_DIR said, so
    # after the demo it found no lineage tables (exit 3) and left an empty ./data behind.
    summary = _skewless(tmp_path, "lineage", "summary", "--json")
    assert summary.returncode == 0, summary.stdout + summary.stderr
    counts = json.loads(summary.stdout)
    assert counts["model_versions"] >= 1
    assert counts["events"] > 0
    assert not (tmp_path / "data").exists()

    # The README's Python API block, run as it is written, against what the demo left: from a
    # directory whose ./data is the demo's state (the layout `make demo` leaves).
    (tmp_path / "data").symlink_to(tmp_path / "state")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKEWLESS_", "LINEAGE_"))}
    ran = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    printed = ran.stdout.splitlines()
    entity_rows = pq.read_metadata(tmp_path / "state" / "raw" / "entities.parquet").num_rows
    assert int(printed[0].split()[1]) == entity_rows  # the version's rows: one per entity row
    values = ast.literal_eval(printed[1])
    assert values["customer_id"] == [1]
    assert isinstance(values["amount_to_avg_30d_ratio"][0], float)
    statuses = ast.literal_eval(printed[2])
    assert set(statuses.values()) == {"PRESENT"}, statuses
    assert statuses.keys() == values.keys()
    models = _skewless(tmp_path, "lineage", "provenance", "fraud_model", "7", "--json")
    assert models.returncode == 0, models.stdout + models.stderr
