"""Times of any unit become nanoseconds exactly; a time nanoseconds cannot hold fails its row.

Parquet written by Arrow reads back in microseconds, and a "valid until 9999-12-31" sentinel is
common: before, such a file stopped ``skewless ingest`` with pandas' traceback.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.ingestion.conform import Failures, conform
from tests.unit.test_naive_times import NaiveUtc, Strict

TIMES = ["2026-01-01T10:00:00.123456", "NaT", "1970-01-01T00:00:00", "1900-05-05T12:00:00"]


def _rides(times: pd.Series) -> pd.DataFrame:
    n = len(times)
    return pd.DataFrame(
        {"ride_id": np.arange(1, n + 1), "event_timestamp": times, "fare": np.ones(n)}
    )


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", None])
def test_every_unit_converts_exactly(unit: str, zone: str | None) -> None:
    naive = pd.Series(np.array(TIMES, dtype=f"M8[{unit}]"))
    times = naive if zone is None else naive.dt.tz_localize(zone)
    contract = NaiveUtc if zone is None else Strict
    failures = Failures()
    typed = conform(_rides(times), contract, failures)
    expected = (naive.dt.tz_localize("UTC") if zone is None else times).dt.tz_convert("UTC")
    assert failures.reasons == {}
    assert typed["event_timestamp"].dtype == "datetime64[ns, UTC]"
    pd.testing.assert_series_equal(
        typed["event_timestamp"], expected.astype("datetime64[ns, UTC]"), check_names=False
    )


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
@pytest.mark.parametrize("contract", [Strict, NaiveUtc])
def test_a_time_beyond_nanoseconds_fails_its_row_only(unit: str, contract: type) -> None:
    values = np.array(
        ["2026-01-01T10:00:00", "9999-12-31T00:00:00", "NaT", "1000-01-01T00:00:00"],
        dtype=f"M8[{unit}]",
    )
    times = pd.Series(values)
    if contract is Strict:
        times = times.dt.tz_localize("UTC")
    failures = Failures()
    typed = conform(_rides(times), contract, failures)
    assert sorted(failures.reasons) == [1, 3]
    assert {r[0]["check"] for r in failures.reasons.values()} == {"timestamp_out_of_range"}
    assert "9999-12-31" in str(failures.reasons[1][0]["value"])
    assert typed["event_timestamp"].iloc[0] == pd.Timestamp("2026-01-01T10:00:00", tz="UTC")
    assert typed["event_timestamp"].iloc[1:].isna().all()
