"""Event and created times beyond the future horizon are quarantined on every write path.

A row timed ten years ahead (a unit error) or at pandas' last instant (2262) would sit invisible
offline and never be served; the gate quarantines it with the reason ``future_timestamp``, on
file ingest, ``POST /push`` and the SDK alike, and ``SKEWLESS_FUTURE_HORIZON`` sets how far ahead
is still believable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from services.cli import app
from services.errors import BatchRejectedError
from services.offline.datasets import list_versions
from services.sdk import Client
from services.serving.metrics import make_metrics
from services.serving.schemas import PushRequest
from services.serving.service import FeatureService, read_reasons
from services.settings import Settings, reset_settings
from services.store import Store, load_definitions

runner = CliRunner()
FAR = pd.Timestamp("2262-04-01T00:00:00Z")  # within pandas' range, far beyond any horizon


def _rows(now: datetime) -> pd.DataFrame:
    """Five merchants: 1 and 2 are fine, 3 is ten years ahead, 4 is in 2262, 5 created ahead."""
    ts = pd.Timestamp(now).floor("s")
    event = [ts, ts - timedelta(hours=1), ts + timedelta(days=3650), FAR, ts]
    created = [ts, ts, ts, ts, ts + timedelta(days=3650)]
    return pd.DataFrame(
        {
            "merchant_id": np.arange(1, 6, dtype="int64"),
            "event_timestamp": pd.Series(event, dtype="datetime64[ns, UTC]"),
            "created_timestamp": pd.Series(created, dtype="datetime64[ns, UTC]"),
            "merchant_category": ["fuel"] * 5,
            "fraud_rate_30d": [0.01] * 5,
            "chargeback_rate_30d": [0.02] * 5,
            "txn_volume_30d": np.arange(5, dtype="int64"),
        }
    )


EXPECTED = {
    (2, "future_timestamp", "event_timestamp"),
    (3, "future_timestamp", "event_timestamp"),
    (4, "future_timestamp", "created_timestamp"),
}


def _store(settings: Settings) -> Store:
    store = Store(settings)
    store.apply(load_definitions(settings.repo_path))
    return store


def test_file_ingest_quarantines_future_rows_with_a_reason(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    _store(sqlite_settings).close()
    path = tmp_path / "future.parquet"
    _rows(datetime.now(UTC)).to_parquet(path)
    r = runner.invoke(app, ["ingest", "merchant_risk", str(path), "--policy", "quarantine"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        app, ["ingest", "merchant_risk", str(path), "--policy", "quarantine", "--json"]
    )
    summary = json.loads(r.output)
    assert (summary["received"], summary["written"], summary["quarantined"]) == (5, 2, 3)
    bad = pd.read_parquet(summary["quarantine_path"])
    reasons = {
        (int(row), item["check"], item["column"])
        for row, items in zip(bad["_row"], bad["_reasons"], strict=True)
        for item in json.loads(items)
    }
    assert reasons == EXPECTED
    (version,) = list_versions(sqlite_settings.offline_dir, "merchant_risk")
    kept = pd.read_parquet(version.path)
    assert sorted(kept["merchant_id"]) == [1, 2]


def test_push_and_sdk_refuse_future_rows_and_write_nothing(sqlite_settings: Settings) -> None:
    store = _store(sqlite_settings)
    frame = _rows(datetime.now(UTC))
    body = {
        k: [
            None if pd.isna(v) else (v.isoformat() if isinstance(v, pd.Timestamp) else v) for v in s
        ]
        for k, s in frame.astype(object).items()
    }
    service = FeatureService(store, make_metrics())
    try:
        with pytest.raises(BatchRejectedError) as caught:
            service.push(PushRequest(push_source_name="merchant_risk", df=body))
        pushed = {
            (r["row"], r["check"], r["column"])
            for r in read_reasons(caught.value.result)
            if r["check"] == "future_timestamp"
        }
        assert pushed == EXPECTED
    finally:
        service.close()
        store.close()
    client = Client(sqlite_settings)
    result = client.ingest("merchant_risk", frame, policy="quarantine")
    assert (result.written, result.quarantined) == (2, 3)
    assert result.failed_checks == {"future_timestamp": 3}
    versions = list_versions(sqlite_settings.offline_dir, "merchant_risk")
    assert [v.rows for v in versions] == [2]  # the push wrote nothing


def test_the_horizon_is_a_setting(make_settings: Callable[..., Settings]) -> None:
    """Rows two days ahead pass a three-day horizon and fail a one-hour one."""
    now = datetime.now(UTC)
    frame = _rows(now).iloc[[0, 1]].copy()
    frame["created_timestamp"] = pd.Series(
        [pd.Timestamp(now) + timedelta(days=2)] * 2, dtype="datetime64[ns, UTC]"
    )
    for horizon, quarantined in (("3d", 0), ("1h", 2), ("P3D", 0), ("3600", 2)):
        store = _store(make_settings("sqlite", future_horizon=horizon))
        try:
            result = Client(store.settings).ingest("merchant_risk", frame, policy="quarantine")
        finally:
            store.close()
        assert result.quarantined == quarantined, horizon


def test_a_bad_horizon_is_one_line_and_exit_2(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_settings("sqlite")
    monkeypatch.setenv("SKEWLESS_FUTURE_HORIZON", "tomorrow")
    reset_settings()
    r = runner.invoke(app, ["datasets", "merchant_risk"])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: invalid settings: ")
    assert "SKEWLESS_FUTURE_HORIZON" in lines[0]
    assert "Traceback" not in r.output
