"""``bench.summarize``: medians and the ratio's spread over several runs' JSON."""

from __future__ import annotations

import json
from pathlib import Path

from bench.summarize import summarize


def _run(path: Path, date: str, ours: float, feast: float, extra: bool = False) -> Path:
    rows = [
        {
            "metric": "m",
            "unit": "rows/s",
            "skewless": ours,
            "feast": feast,
            "limit": 4 * ours,
            "better": "higher",
        },
        {
            "metric": "t",
            "unit": "s",
            "skewless": 1.0,
            "feast": 2.0,
            "limit": None,
            "baseline": 0.5,
            "better": "lower",
        },
    ]
    if extra:
        rows.append(
            {
                "metric": "only once",
                "unit": "s",
                "skewless": 1.0,
                "feast": 1.0,
                "limit": None,
                "better": "lower",
            }
        )
    path.write_text(json.dumps({"date": date, "scale": 1.0, "rows": rows}))
    return path


def test_medians_spread_and_rows_missing_from_a_run(tmp_path: Path) -> None:
    runs = [
        _run(tmp_path / "a.json", "2026-12-05T10:00", 100.0, 200.0),
        _run(tmp_path / "b.json", "2026-12-05T11:00", 300.0, 100.0, extra=True),
        _run(tmp_path / "c.json", "2026-12-05T12:00", 200.0, 100.0),
    ]
    table = summarize(runs)
    assert "Medians over 3 runs" in table
    # skewless 100/300/200 -> 200; feast 200/100/100 -> 100; ratios 0.5, 3, 2 -> median 2
    assert "| m | rows/s | 200 | 100 | 2.00x | 0.50-3.00x | 0.25x (limit) |" in table
    assert "| t | s | 1 | 2 | 2.00x | 2.00-2.00x | 0.50x (baseline) |" in table
    assert "only once" not in table  # no median for a row one run lacks
