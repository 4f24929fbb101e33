"""An ingest's two row hashes (attempt id, version id) equal pandas' own, column sharing or not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.contracts import BenchUserActivity
from services.ingestion.conform import Failures, conform
from services.offline.hashing import hashable_frame, paired_row_hashes
from tests.unit.test_conform_and_hash import activity_rows


def pandas_rows(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(hashable_frame(frame), index=False).to_numpy()


def assert_pandas(first: pd.DataFrame, second: pd.DataFrame) -> None:
    a, b = paired_row_hashes(first, second)
    assert a is not None
    assert b is not None
    np.testing.assert_array_equal(a, pandas_rows(first))
    np.testing.assert_array_equal(b, pandas_rows(second))


def test_raw_and_conformed_rows_hash_as_pandas_hashes_them() -> None:
    """conform passes most columns through and converts the timestamps (us -> ns): the shared
    columns are hashed once, the converted ones apart, and both results are pandas'."""
    raw = activity_rows(300)
    typed = conform(raw, BenchUserActivity, Failures())
    assert typed["a_score"].to_numpy() is not raw["a_score"].to_numpy()  # new objects...
    assert np.shares_memory(typed["a_score"].to_numpy(), raw["a_score"].to_numpy())  # same data
    assert raw["event_timestamp"].dtype != typed["event_timestamp"].dtype
    assert_pandas(raw, typed)


def test_a_column_with_other_values_at_another_address_is_hashed_apart() -> None:
    raw = activity_rows(50)
    changed = raw.copy()
    changed["a_score"] = raw["a_score"] + 1.0  # same dtype, other data
    changed["a_sessions_7d"] = raw["a_sessions_7d"].fillna(0)  # same extension dtype
    a, b = paired_row_hashes(raw, changed)
    assert a is not None
    assert b is not None
    assert not (a == b).any()
    assert_pandas(raw, changed)


@pytest.mark.parametrize(
    "columns",
    [
        {"s": ["a", None, "c"], "i": pd.array([1, None, 3], dtype="Int64")},
        {"b": [True, False, True], "f": [0.5, np.nan, -0.0]},
        {"t": pd.to_datetime(["2026-01-01", None, "2026-01-02"]).tz_localize("UTC")},
        {"nested": [[1, 2], None, [3]], "blob": [b"x", b"", None], "m": [{"k": 1}, {}, None]},
        {"cat": pd.Categorical(["x", "y", "x"]), "u": np.array([1, 2, 3], dtype="uint8")},
    ],
)
def test_every_kind_of_column_hashes_as_pandas_hashes_it(columns: dict[str, object]) -> None:
    frame = pd.DataFrame(columns)
    assert_pandas(frame, frame)
    assert_pandas(frame, frame.copy(deep=True))


def test_frames_with_other_columns_or_orders_are_hashed_apart() -> None:
    raw = activity_rows(20)
    assert_pandas(raw, raw[list(reversed(raw.columns))])
    assert_pandas(raw, raw.drop(columns=["a_score"]))


def test_a_frame_pandas_cannot_hash_gets_none_and_the_other_its_hashes() -> None:
    sets = pd.DataFrame({"x": [{1, 2}, None, {3}]})
    plain = pd.DataFrame({"x": [1, 2, 3]})
    a, b = paired_row_hashes(sets, plain)
    assert a is None
    np.testing.assert_array_equal(b, pandas_rows(plain))
    a, b = paired_row_hashes(plain, sets)
    assert b is None
    np.testing.assert_array_equal(a, pandas_rows(plain))
