"""The served-feature log reaches disk on a short interval, not only when full or at shutdown."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from services.serving.served_log import ServedLog


@dataclass
class _Column:
    name: str
    values: list[Any]


def test_a_few_served_rows_are_written_within_the_interval(tmp_path: Path) -> None:
    """Regression (hardening #18): thousands of rows short of a full buffer were never written."""
    log = ServedLog(tmp_path, rate=1.0, flush_rows=5_000, seed=1, flush_interval_s=0.05)
    try:
        log.record("svc", "r1", datetime.now(UTC), [_Column("f", [1, 2, 3])])
        deadline = time.monotonic() + 10
        parts: list[Path] = []
        while not parts and time.monotonic() < deadline:
            parts = list((tmp_path / "svc").rglob("part-*.parquet"))
        assert parts, "nothing written before shutdown"
        assert pd.read_parquet(parts[0])["f"].tolist() == [1, 2, 3]
    finally:
        log.close()
