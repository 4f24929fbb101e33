"""The ``cli`` section: wall time of whole ``skewless`` processes, as a user at a shell sees it.

One demo data directory (the card-fraud repository, embedded SQLite stores) is built once; each
command then runs five times as a fresh process and the median wall time is reported, beside
``feast feature-views list`` on the same repository and registry (the baseline: Feast's
cheapest command that reads the registry). Targets are #17's: help and usage errors 0.5 s,
``online`` and ``datasets`` 1.5 s, lineage queries 1 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.report import Row

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RUNS = 5
SERVICE = "fraud_detection_v2"

# label, argv after `skewless`, target seconds, the exit code it must end with
COMMANDS: tuple[tuple[str, list[str], float, int], ...] = (
    ("skewless --help", ["--help"], 0.5, 0),
    ("usage error (online --bogus)", ["online", "--bogus"], 0.5, 2),
    (
        "skewless online, 1 entity (on-demand service)",
        [
            "online",
            f"--service={SERVICE}",
            "--entity=customer_id=1",
            "--entity=merchant_id=1",
            "--request=transaction_amount=3.0",
            "--json",
        ],
        1.5,
        0,
    ),
    ("skewless datasets SOURCE", ["datasets", "customer_profile", "--json"], 1.5, 0),
    ("skewless lineage summary", ["lineage", "summary"], 1.0, 0),
    (
        "skewless lineage graph NODE",
        ["lineage", "graph", "dataset:skewless:offline/customer_profile"],
        1.0,
        0,
    ),
)


def _env(data_dir: Path) -> dict[str, str]:
    """The demo's variables, overriding whatever the other sections put in this environment."""
    return {
        **os.environ,
        "SKEWLESS_DATA_DIR": str(data_dir),
        "SKEWLESS_PROJECT": "skewless",
        "SKEWLESS_ONLINE_STORE": "sqlite",
        "SKEWLESS_REPO_PATH": str(REPO_ROOT / "feature_repo"),
        "LINEAGE_DATABASE_URL": f"sqlite:///{data_dir / 'lineage.db'}",
        "PYTHONPATH": str(REPO_ROOT),
    }


def _median_wall(argv: list[str], env: dict[str, str], code: int) -> float:
    """Median wall time of ``RUNS`` runs of ``argv``; a run ending with another code fails."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != code:
            raise RuntimeError(f"{argv}: exit {done.returncode}, expected {code}: {done.stderr}")
    return statistics.median(times)


def bench_cli(scratch: Path) -> list[Row]:
    """One row per command: Skewless's median wall time; Feast's registry listing as baseline."""
    data_dir = scratch / "cli" / "data"
    env = _env(data_dir)
    subprocess.run(
        [str(BIN / "skewless"), "demo", "--data-dir", str(data_dir), "--size", "100"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    )
    feast = _median_wall(
        [str(BIN / "feast"), "-c", str(REPO_ROOT / "feature_repo"), "feature-views", "list"], env, 0
    )
    rows = []
    for label, args, target, code in COMMANDS:
        seconds = _median_wall([str(BIN / "skewless"), *args], env, code)
        rows.append(
            Row(
                f"CLI {label}, process wall time (median of {RUNS})",
                "s",
                seconds,
                None,
                None,
                "lower",
                note=f"target {target} s; baseline: `feast feature-views list` on the same repo",
                extra={"target_s": target, "meets_target": seconds <= target},
                baseline=feast,
            )
        )
    return rows
