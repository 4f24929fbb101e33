"""Files larger than the ingestion batch stream through the gate with the one-piece result.

A file of several batches (``SKEWLESS_INGEST_BATCH_ROWS``) with bad rows spread over every batch,
a duplicate key across a batch boundary and a future timestamp is ingested streamed and, in
another project, in one piece (``ingest_frame`` on the whole file): the counts, failed checks,
quarantined rows with their reasons, version id and online values agree, for CSV and parquet,
with the quarantine and the reject policy. A separate test runs ``skewless ingest`` on a file
many batches long and on one a quarter of its size and checks memory stays flat (both are past
the online writer's own batch of entities, so what remains is the data's share).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from services.ingestion.gate import ingest_file, ingest_frame
from services.ingestion.reader import read_batch
from services.offline.datasets import list_versions
from services.online.reader import OnlineReader, online_features
from services.resolution import plan_features
from services.settings import Settings
from services.store import Store, load_definitions

pytestmark = pytest.mark.integration

CATEGORIES = ["fuel", "grocery", "travel"]


def merchant_rows(n: int, seed: int = 3) -> pd.DataFrame:
    """``n`` rows of merchant_risk with bad rows, a cross-batch duplicate and a future time."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-11-01", tz="UTC")
    stamps = start + pd.to_timedelta(rng.integers(0, 20 * 86400, n), unit="s")
    frame = pd.DataFrame(
        {
            "merchant_id": rng.integers(1, max(2, n // 3), n),
            "event_timestamp": stamps,
            "created_timestamp": stamps + pd.Timedelta(minutes=5),
            "merchant_category": rng.choice(CATEGORIES, n),
            "fraud_rate_30d": rng.random(n).round(6),
            "chargeback_rate_30d": rng.random(n).round(6),
            "txn_volume_30d": rng.integers(0, 10_000, n),
        }
    )
    frame.loc[frame.index[7::97], "fraud_rate_30d"] = 1.5  # out of range, in every batch
    frame.loc[frame.index[11::131], "merchant_category"] = "casino"  # not an allowed value
    frame.loc[n - 5, ["merchant_id", "event_timestamp", "created_timestamp"]] = frame.loc[
        3, ["merchant_id", "event_timestamp", "created_timestamp"]
    ].to_numpy()  # the same key as row 3, several batches later
    frame.loc[n - 9, "created_timestamp"] = pd.Timestamp(datetime.now(UTC) + timedelta(days=30))
    return frame


def _quarantine(path: str | None) -> pd.DataFrame:
    assert path is not None
    out = pd.read_parquet(path).sort_values("_row").reset_index(drop=True)
    return out[["_row", "_reasons", "merchant_id", "merchant_category"]]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("policy", ["quarantine", "reject"])
def test_a_streamed_file_gives_the_one_piece_result(
    make_settings: Callable[..., Settings], tmp_path: Path, suffix: str, policy: str
) -> None:
    raw = merchant_rows(2_500)
    path = tmp_path / f"merchant_risk{suffix}"
    if suffix == ".csv":
        raw.to_csv(path, index=False)
    else:
        raw.to_parquet(path, index=False, row_group_size=400)

    streamed_settings = make_settings("sqlite", ingest_batch_rows=600)  # five batches
    streamed_store = Store(streamed_settings)
    streamed_store.apply(load_definitions(streamed_settings.repo_path))
    streamed = ingest_file(streamed_store, "merchant_risk", path, policy=policy)  # type: ignore[arg-type]

    whole_settings = make_settings("sqlite")
    whole_store = Store(whole_settings)
    whole_store.apply(load_definitions(whole_settings.repo_path))
    whole = ingest_frame(
        whole_store,
        "merchant_risk",
        read_batch(path),
        policy=policy,  # type: ignore[arg-type]
        origin=str(path),
        text=suffix == ".csv",
    )

    for field in ("received", "written", "quarantined", "accepted", "dataset_version"):
        assert getattr(streamed, field) == getattr(whole, field), field
    assert streamed.failed_checks == whole.failed_checks
    checks = set(whole.failed_checks)
    assert {"duplicate_key", "future_timestamp"} <= checks
    assert any(c.startswith("less_than_or_equal_to") for c in checks)
    assert any(c.startswith("isin") for c in checks)
    pd.testing.assert_frame_equal(
        _quarantine(streamed.quarantine_path),
        _quarantine(whole.quarantine_path),
        check_dtype=False,
    )
    if policy == "quarantine":
        assert streamed.dataset_version is not None
        [version] = list_versions(streamed_settings.offline_dir, "merchant_risk")
        assert version.rows == whole.written
        assert version.received == whole.received
        plan = plan_features(whole_store, ["merchant_risk:fraud_rate_30d"])
        ids = sorted(set(raw["merchant_id"].tolist()))[:50]
        ours = online_features(OnlineReader(streamed_store), plan, {"merchant_id": ids}, None)
        theirs = online_features(OnlineReader(whole_store), plan, {"merchant_id": ids}, None)
        assert [c.values for c in ours.columns] == [c.values for c in theirs.columns]
    else:
        assert streamed.dataset_version is None
        assert not list_versions(streamed_settings.offline_dir, "merchant_risk")
    streamed_store.close()
    whole_store.close()


# Linux keeps a process's peak RSS across fork and exec: a child forked from this pytest process
# (hundreds of MB by now) reports at least that much. A small launcher process runs the command
# and reports its child's peak, so the number is the command's own.
_LAUNCHER = """
import resource, subprocess, sys
with open(sys.argv[1], "wb") as err:
    code = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=err)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


def _peak_rss_mb(env: dict[str, str], path: Path) -> float:
    """Peak resident memory of one ``skewless ingest`` process, in MB."""
    skewless = str(Path(sys.executable).parent / "skewless")
    log = path.with_suffix(".log")
    command = [skewless, "ingest", "merchant_risk", str(path), "--policy", "quarantine", "--json"]
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(log), *command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), log.read_text() + done.stderr
    return int(done.stdout.strip()) / 1024


def test_memory_stays_flat_as_the_file_grows(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings("sqlite", ingest_batch_rows=10_000, ingest_memory_limit="64MB")
    store = Store(settings)
    store.apply(load_definitions(settings.repo_path))
    store.close()
    small, large = tmp_path / "small.parquet", tmp_path / "large.parquet"
    merchant_rows(100_000, seed=5).to_parquet(small, index=False, row_group_size=10_000)
    merchant_rows(400_000, seed=6).to_parquet(large, index=False, row_group_size=10_000)
    env = dict(os.environ)
    whole = {**env, "SKEWLESS_INGEST_BATCH_ROWS": "10000000"}
    streamed_small = _peak_rss_mb(env, small)
    streamed_large = _peak_rss_mb(env, large)
    whole_small = _peak_rss_mb(whole, small)
    whole_large = _peak_rss_mb(whole, large)
    peaks = (streamed_small, streamed_large, whole_small, whole_large)
    # Four times the rows (40 batches against 10): memory does not grow with the file; what is
    # left is the set of entities to refresh online (~100 B each, 100k more here) and DuckDB's
    # capped share of the duplicate check. Growth, not absolute peaks: the baseline (imports,
    # allocator arenas) differs between machines and runs.
    assert streamed_large - streamed_small < 60, peaks
    # The bound is the setting's doing: the same files in one piece grow with the file.
    assert (whole_large - whole_small) > (streamed_large - streamed_small) + 100, peaks
