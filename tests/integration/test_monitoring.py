"""Drift against the exact training set of a model, and freshness on event time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
from typer.testing import CliRunner

from services.audits.freshness import audit_freshness
from services.cli import app
from services.ingestion.gate import ingest_file, ingest_frame
from services.offline.datasets import list_versions
from services.sdk import Client
from services.settings import Settings
from services.store import load_definitions
from tests.demo_repo import write_demo_data
from tests.integration.serving.conftest import ServerThread

runner = CliRunner()
CUSTOMERS = 300


def _serve_everyone(settings: Settings) -> None:
    """Serve every customer through the real feature server (its served log, as deployed)."""
    ids = list(range(1, CUSTOMERS + 1))
    body = {
        "feature_service": "fraud_detection_v1",
        "entities": {"customer_id": ids, "transaction_amount": [50.0 + (i % 7) for i in ids]},
    }
    with ServerThread(settings) as srv:
        response = httpx.post(f"{srv.url}/get-online-features", json=body, timeout=60)
        assert response.status_code == 200, response.text
    # Stopping the server flushed its served log.


def test_drift_flags_exactly_the_shifted_features(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings: Settings = make_settings("sqlite", serve_log_sample_rate=1.0)
    client = Client(settings)
    client.store.apply(load_definitions(settings.repo_path))
    files = write_demo_data(tmp_path / "raw", customers=CUSTOMERS, days=10, seed=5)
    for name, path in files.paths.items():
        assert ingest_file(client.store, name, path).accepted
    # The model's training set: every customer at one instant, with the requests served later.
    at = datetime.now(UTC)
    ids = list(range(1, CUSTOMERS + 1))
    entities = pd.DataFrame(
        {
            "customer_id": ids,
            "event_timestamp": pd.Timestamp(at),
            "transaction_amount": [50.0 + (i % 7) for i in ids],
        }
    )
    _, version = client.training_set(entities, "fraud_detection_v1", name="drift-model")
    client.register_model("drift-model", "1", version.version, {"auc": 0.9})

    _serve_everyone(settings)  # unshifted: what is served is what the model trained on
    r = runner.invoke(app, ["audit", "drift", "--training-set", version.version, "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["drifted_features"] == []

    # A shifted version: a mean shift and a scale change, nothing else.
    latest = pd.read_parquet(
        list_versions(settings.offline_dir, "customer_transactions_daily")[-1].path
    )
    latest = (
        latest.sort_values(["event_timestamp", "created_timestamp"]).groupby("customer_id").tail(1)
    )
    shifted = latest.copy()
    now = pd.Timestamp(datetime.now(UTC)).floor("s")
    shifted["event_timestamp"] = now
    shifted["created_timestamp"] = now
    shifted["txn_amount_sum_1d"] = shifted["txn_amount_sum_1d"] + 400.0
    mean = shifted["txn_count_30d"].mean()
    shifted["txn_count_30d"] = (
        ((shifted["txn_count_30d"] - mean) * 4 + mean).clip(lower=0).round().astype("int64")
    )
    assert ingest_frame(client.store, "customer_transactions_daily", shifted).accepted
    since = datetime.now(UTC)
    _serve_everyone(settings)
    report_dir = tmp_path / "report"
    r = runner.invoke(
        app,
        [
            "audit",
            "drift",
            "--training-set",
            version.version,
            "--json",
            "--since",
            since.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "--report",
            str(report_dir),
        ],
    )
    body = json.loads(r.output)
    assert sorted(body["drifted_features"]) == ["txn_amount_sum_1d", "txn_count_30d"]
    assert body["dataset_drift"] is False
    assert r.exit_code == 0
    page = Path(body["report"]).read_text()
    assert "txn_amount_sum_1d" in page
    assert "<svg" in page
    assert "DRIFT" in page
    client.close()


def test_freshness_breach_on_event_time(sqlite_settings: Settings, tmp_path: Path) -> None:
    client = Client(sqlite_settings)
    client.store.apply(load_definitions(sqlite_settings.repo_path))
    # Regression (hardening #19): a view with no online value at all breaches, exit 1.
    empty = {v.view: v for v in audit_freshness(client.store)}
    assert all(v.breached and v.online == 0 for v in empty.values()), empty
    assert runner.invoke(app, ["audit", "freshness"]).exit_code == 1
    files = write_demo_data(tmp_path / "raw", customers=40, days=5, seed=2)
    for name, path in files.paths.items():
        assert ingest_file(client.store, name, path).accepted
    fresh = {v.view: v for v in audit_freshness(client.store)}
    assert not any(v.breached for v in fresh.values()), fresh
    assert fresh["merchant_risk"].online == fresh["merchant_risk"].entities > 0
    later = {
        v.view: v for v in audit_freshness(client.store, at=datetime.now(UTC) + timedelta(days=3))
    }
    assert later["customer_transactions_daily"].breached  # SLO 2 x daily cadence
    assert later["customer_transactions_daily"].expired_share == 1.0  # ttl 48 h
    assert not later["customer_profile"].breached  # weekly cadence, 14-day SLO
    r = runner.invoke(app, ["audit", "freshness", "--json"])
    assert r.exit_code == 0, r.output
    client.close()
