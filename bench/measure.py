"""Timing, percentiles, medians and peak RSS of a task run in a fresh subprocess.

A *task* is a function in :mod:`bench.tasks` run as ``python -m bench.tasks NAME ARGS_JSON``;
the child prints one JSON line with its result plus ``seconds`` and ``rss_mb`` (its own
``ru_maxrss``), so each measured engine starts from a clean interpreter.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    ``VmHWM`` from ``/proc/self/status``: unlike ``ru_maxrss``, it is reset by ``exec``, so a
    child does not report its (large) parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def time_calls(fn: Callable[[], Any], calls: int, warmup: int = 50) -> dict[str, float]:
    """Latency of ``calls`` calls after ``warmup`` calls, in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return {
        "p50_ms": percentile(samples, 50),
        "p95_ms": percentile(samples, 95),
        "p99_ms": percentile(samples, 99),
        "mean_ms": statistics.fmean(samples),
    }


def run_task(
    name: str, args: dict[str, Any], env: dict[str, str] | None = None, timeout: float = 1800
) -> dict[str, Any]:
    """Run ``bench.tasks.<name>(**args)`` in a fresh interpreter; return its JSON result."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.tasks", name, json.dumps(args)],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"task {name} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def median_runs(n: int, fn: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """Call ``fn(i)`` n times; numeric fields become medians."""
    results = [fn(i) for i in range(n)]
    out = dict(results[0])
    for key, value in results[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = median([r[key] for r in results])
    return out
