"""The demo's raw files hold only rows that exist at the time they are generated for."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from tests.demo_repo import write_demo_data


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 12, 2, 0, 6, tzinfo=UTC),  # minutes after midnight: today's rows not in yet
        datetime(2026, 12, 2, 14, 30, tzinfo=UTC),
    ],
)
def test_no_row_is_created_after_now(tmp_path: Path, now: datetime) -> None:
    files = write_demo_data(tmp_path, customers=60, days=5, seed=3, now=now)
    for name, path in files.paths.items():
        frame = pd.read_parquet(path)
        created = pd.to_datetime(frame["created_timestamp"], utc=True)
        assert (created <= pd.Timestamp(now)).all(), name
        assert (pd.to_datetime(frame["event_timestamp"], utc=True) <= pd.Timestamp(now)).all()
