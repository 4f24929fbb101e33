"""Long commands report progress: the library calls hear every batch, view and step.

The library functions take a plain callback (no Rich); each test runs one on real files and the
real Redis and checks it heard every batch of an ingest (with the parquet row count, none for
CSV), every view of a parity audit, and every join of a training set. The last tests run
``skewless ingest`` with its stderr on a pseudo-terminal: a progress line is drawn there, and
nothing with ``--json`` (nor, as every other CLI test shows, when stderr is not a terminal).
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from services.audits.parity import audit_parity
from services.ingestion.gate import ingest_file
from services.offline.training import build_training_set
from services.resolution import plan_service
from services.settings import Settings
from services.store import Store, load_definitions
from tests.demo_repo import write_demo_data
from tests.integration.test_streamed_ingest import merchant_rows

pytestmark = pytest.mark.integration

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _applied(settings: Settings) -> Store:
    store = Store(settings)
    store.apply(load_definitions(settings.repo_path))
    return store


@pytest.mark.parametrize(("suffix", "total"), [(".parquet", 2_500), (".csv", None)])
def test_ingest_reports_every_batch(
    make_settings: Callable[..., Settings], tmp_path: Path, suffix: str, total: int | None
) -> None:
    path = tmp_path / f"merchant_risk{suffix}"
    raw = merchant_rows(2_500)
    if suffix == ".csv":
        raw.to_csv(path, index=False)
    else:
        raw.to_parquet(path, index=False, row_group_size=400)
    store = _applied(make_settings("redis", ingest_batch_rows=600))
    heard: list[tuple[int, int | None]] = []
    try:
        result = ingest_file(
            store, "merchant_risk", path, policy="quarantine", progress=lambda *a: heard.append(a)
        )
    finally:
        store.close()
    # Five batches of 600 rows at most; the last call counts every row the result received.
    assert heard == [(600, total), (1200, total), (1800, total), (2400, total), (2500, total)]
    assert result.received == 2_500


def test_a_one_batch_file_is_reported_once(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    path = tmp_path / "merchant_risk.parquet"
    merchant_rows(300).to_parquet(path, index=False)
    store = _applied(make_settings("redis"))
    heard: list[tuple[int, int | None]] = []
    try:
        ingest_file(
            store, "merchant_risk", path, policy="quarantine", progress=lambda *a: heard.append(a)
        )
    finally:
        store.close()
    assert heard == [(300, 300)]


def test_parity_and_training_set_report_every_view(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    store = _applied(make_settings("redis"))
    try:
        files = write_demo_data(tmp_path / "raw", customers=40, days=6, seed=5)
        for name, path in files.paths.items():
            assert ingest_file(store, name, path).accepted

        heard: list[tuple[str, int]] = []
        report = audit_parity(store, sample=None, progress=lambda *a: heard.append(a))
        assert report.passed
        views = sorted(store.feature_views)
        assert heard == [(view, len(views)) for view in views]

        service = "fraud_detection_v2"
        plan = plan_service(store, service)
        heard.clear()
        report = audit_parity(store, service=service, progress=lambda *a: heard.append(a))
        checked = [v.view for v in report.views]
        assert [view for view, _ in heard] == checked
        assert {total for _, total in heard} == {len(checked)}

        steps: list[str] = []
        entities = pd.read_parquet(files.entities)
        build_training_set(store, service, entities, steps=steps.append)
    finally:
        store.close()
    assert steps[0] == f"resolving {service}"
    joins = [s.removeprefix("point-in-time join: ") for s in steps if s.startswith("point-in")]
    assert joins == [read.view for read in plan.fetch]
    transforms = [s for s in steps if s.startswith("on-demand transform: ")]
    assert len(transforms) == len(plan.on_demand)
    assert steps[-1] == "recording the version"


def _run_with_terminal_stderr(*args: str) -> tuple[int, str, str]:
    """Run ``skewless ARGS`` with stderr on a pseudo-terminal: (exit code, stdout, stderr)."""
    skewless = str(Path(sys.executable).parent / "skewless")
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR"):
        env.pop(name, None)  # the terminal alone decides
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [skewless, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
    ) as process:
        os.close(terminal)
        drawn = bytearray()
        while True:  # read as it is drawn, so a full terminal buffer never blocks the command
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the command closed the terminal
                break
            if not chunk:
                break
            drawn += chunk
        os.close(controller)
        assert process.stdout is not None
        stdout = process.stdout.read().decode()
        code = process.wait(timeout=120)
    return code, stdout, ANSI.sub("", drawn.decode(errors="replace"))


def test_ingest_draws_progress_on_a_terminal_and_none_with_json(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    _applied(make_settings("redis", ingest_batch_rows=600)).close()
    path = tmp_path / "merchant_risk.parquet"
    merchant_rows(2_500).to_parquet(path, index=False, row_group_size=400)

    code, stdout, stderr = _run_with_terminal_stderr(
        "ingest", "merchant_risk", str(path), "--policy", "quarantine"
    )
    assert code == 0, stdout + stderr
    assert "ingest merchant_risk" in stderr
    assert "2,500/2,500 rows" in stderr  # parquet: a bar against the row count
    assert "2,500/2,500" not in stdout  # the summary table on stdout is left alone

    code, stdout, stderr = _run_with_terminal_stderr(
        "ingest", "merchant_risk", str(path), "--policy", "quarantine", "--json"
    )
    assert code == 0, stdout + stderr
    assert stderr.strip() == ""
    assert '"received": 2500' in stdout
