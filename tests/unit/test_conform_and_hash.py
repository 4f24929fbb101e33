"""Conversion keeps values exact on every path, and a version's hash only sees its rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.contracts import BenchUserActivity
from services.ingestion.conform import Failures, conform
from services.offline.datasets import content_hash


def activity_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """Valid ``bench_user_activity`` rows in the dtypes a parquet reader returns."""
    rng = np.random.default_rng(seed)
    ts = pd.Series(
        pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="min")
    ).astype("datetime64[us, UTC]")
    frame = pd.DataFrame(
        {
            "user_id": np.arange(1, n + 1, dtype="int64"),
            "event_timestamp": ts,
            "created_timestamp": ts - pd.Timedelta("1min"),
            "a_country": np.array(["GB", "FR"], dtype=object)[rng.integers(0, 2, n)],
            "a_device": np.array(["ios", "web"], dtype=object)[rng.integers(0, 2, n)],
            "a_is_premium": rng.random(n) < 0.5,
            "a_age": rng.integers(13, 121, n),
            "a_sessions_7d": pd.array(rng.integers(0, 100, n), dtype="Int64"),
            "a_score": rng.random(n),
        }
    )
    frame.loc[::3, "a_sessions_7d"] = pd.NA
    for i in range(8):
        frame[f"f_float_{i}"] = rng.random(n) * 1000
        frame[f"f_int_{i}"] = rng.integers(0, 1_000_000, n)
    return frame


def test_native_and_text_columns_conform_to_the_same_frame() -> None:
    native = activity_rows(50)
    as_text = native.astype({c: object for c in native.columns if "timestamp" not in c})
    for name in ("a_age", "f_int_0", "f_float_0", "a_score", "a_sessions_7d"):
        as_text[name] = native[name].map(lambda v: None if pd.isna(v) else str(v))
    as_text["a_is_premium"] = native["a_is_premium"].map(str)
    contract = BenchUserActivity
    fast, slow = Failures(), Failures()
    typed_fast = conform(native, contract, fast)
    typed_slow = conform(as_text, contract, slow, text=True)
    assert fast.reasons == slow.reasons == {}
    pd.testing.assert_frame_equal(typed_fast, typed_slow)


def test_integers_keep_their_exact_value_and_unsigned_overflow_fails() -> None:
    frame = activity_rows(4)
    frame["f_int_0"] = np.array([2**53 + 1, 2**62 + 1, -(2**63), 7], dtype="int64")
    frame["f_int_1"] = np.array([1, 2**63, 3, 2**64 - 1], dtype="uint64")
    failures = Failures()
    typed = conform(frame, BenchUserActivity, failures)
    assert typed["f_int_0"].tolist() == [2**53 + 1, 2**62 + 1, -(2**63), 7]
    assert typed["f_int_1"].dtype == "int64"
    assert sorted(failures.reasons) == [1, 3]
    assert {r[0]["check"] for r in failures.reasons.values()} == {"dtype(Int64)"}


def test_hash_of_kept_rows_is_the_hash_of_those_rows_alone() -> None:
    frame = conform(activity_rows(40), BenchUserActivity, Failures())
    keep = np.random.default_rng(3).random(len(frame)) < 0.7
    subset = frame.loc[keep].reset_index(drop=True)
    assert content_hash(frame, BenchUserActivity, keep) == content_hash(subset, BenchUserActivity)
    assert content_hash(frame, BenchUserActivity) != content_hash(subset, BenchUserActivity)


def test_integers_from_json_objects_stay_exact() -> None:
    """A JSON push holds Python ints in an object column: they never pass through float64."""
    rows = activity_rows(3)
    raw = rows.astype({"a_sessions_7d": object})
    raw["a_sessions_7d"] = pd.Series([2**62 + 1, 7, 3.0], dtype=object)
    failures = Failures()
    typed = conform(raw, BenchUserActivity, failures)
    assert failures.reasons == {}
    assert typed["a_sessions_7d"].tolist() == [2**62 + 1, 7, 3]
    # Regression (hardening #6): a string is not a number, except in CSV text.
    raw["a_sessions_7d"] = pd.Series([1.5, True, "12"], dtype=object)
    failures = Failures()
    conform(raw, BenchUserActivity, failures)
    assert sorted(failures.reasons) == [0, 1, 2]
    raw["a_sessions_7d"] = pd.Series(["12", "7", "3"], dtype=object)
    failures = Failures()
    assert conform(raw, BenchUserActivity, failures, text=True)["a_sessions_7d"].tolist() == [
        12,
        7,
        3,
    ]
    assert failures.reasons == {}


def test_a_dead_writers_temporaries_are_removed_on_the_next_write(tmp_path: Path) -> None:
    """Regression (hardening #8): a kill -9 leaves .tmp-<pid>; the next write removes it."""
    import os

    from services.offline.datasets import write_version

    folder = tmp_path / "bench_user_activity"
    folder.mkdir()
    dead = folder / ".vdeadbeef.parquet.tmp-999999999"
    live = folder / f".vcafe.parquet.tmp-{os.getpid()}"
    dead.write_bytes(b"partial")
    live.write_bytes(b"in progress")
    frame = conform(activity_rows(5), BenchUserActivity, Failures())
    write_version(tmp_path, BenchUserActivity, frame, quarantined=0, received=5)
    assert not dead.exists()
    assert live.exists()


def test_only_this_machines_dead_temporaries_are_removed(tmp_path: Path) -> None:
    """On a data dir shared by replicas, another machine's pid means nothing here."""
    import socket

    from services.offline.temporaries import remove_stale_temporaries, temporary_for

    final = tmp_path / "v1.parquet"
    mine = temporary_for(final)
    assert mine.name.startswith(".v1.parquet.tmp-")
    assert socket.gethostname() in mine.name
    host = socket.gethostname()
    dead_here = tmp_path / f".v2.parquet.tmp-{host}-999999999"
    elsewhere = tmp_path / ".v3.parquet.tmp-other-machine-999999999"
    for path in (mine, dead_here, elsewhere):
        path.write_bytes(b"partial")
    assert remove_stale_temporaries(tmp_path) == [dead_here]
    assert mine.exists()
    assert elsewhere.exists()


def test_a_version_keeps_min_max_for_keys_and_times_only(tmp_path: Path) -> None:
    """Readers prune row groups by key and time (point-in-time joins, materialization); min/max
    of every feature page cost a fifth of the write."""
    import pyarrow.parquet as pq

    from services.offline.datasets import write_version

    frame = conform(activity_rows(50), BenchUserActivity, Failures())
    version, _ = write_version(tmp_path, BenchUserActivity, frame, quarantined=0, received=50)
    group = pq.ParquetFile(version.path).metadata.row_group(0)
    kept = {
        group.column(i).path_in_schema
        for i in range(group.num_columns)
        if group.column(i).is_stats_set
    }
    assert kept == {"user_id", "event_timestamp", "created_timestamp"}
    assert pq.read_table(version.path).num_rows == 50
