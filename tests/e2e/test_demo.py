"""`skewless demo` runs the whole flow in a fresh directory and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def _demo(directory: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKEWLESS_", "LINEAGE_"))}
    env["SKEWLESS_DATA_DIR"] = str(directory / "data")
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--size", "60"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    proc = _demo(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "0 mismatches" in out
    assert "parity: online == offline" in out
    assert (tmp_path / "data" / "offline" / "customer_profile").is_dir()
    assert list((tmp_path / "data" / "quarantine").rglob("*.parquet")), (
        "invalid rows were quarantined"
    )
    # Regression (hardening #22): the demo is re-runnable in the same directory, without errors.
    again = _demo(tmp_path)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "already exists" not in again.stdout + again.stderr
    assert "0 mismatches" in again.stdout
