"""What the online store holds is known: future rows come online later, lost state is reported.

- ``materialize --incremental`` brings a row online once its created time has passed, even
  when its version was first written (by the ingest) before that: a version is done only once
  every one of its rows was visible.
- A Redis that restarted empty (here: the test project's keys deleted, never FLUSHALL on the
  shared Redis) is not healthy: ``/health`` answers 503 ``degraded`` naming the reason,
  ``skewless audit freshness`` reports the views as LOST (exit 1), ``skewless online`` warns,
  and the next ``materialize --incremental`` rewrites everything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from services.cli import app
from services.online.reader import OnlineReader
from services.resolution import plan_view
from services.settings import Settings
from services.store import Store
from tests.conftest import _purge_redis_project
from tests.integration.serving.conftest import ServerThread, load_project

runner = CliRunner()
FUTURE = timedelta(seconds=3)


def _merchants(now: datetime) -> pd.DataFrame:
    """200 merchants: the first 100 visible now, the last 100 created a few seconds ahead."""
    n = 200
    event = pd.Timestamp(now) - timedelta(hours=1)
    created = [event] * 100 + [pd.Timestamp(now) + FUTURE] * 100
    return pd.DataFrame(
        {
            "merchant_id": np.arange(1, n + 1, dtype="int64"),
            "event_timestamp": pd.Series([event] * n, dtype="datetime64[ns, UTC]"),
            "created_timestamp": pd.Series(created, dtype="datetime64[ns, UTC]"),
            "merchant_category": ["fuel"] * n,
            "fraud_rate_30d": [0.01] * n,
            "chargeback_rate_30d": [0.02] * n,
            "txn_volume_30d": np.arange(n, dtype="int64"),
        }
    )


def _online_entities(settings: Settings) -> int:
    store = Store(settings)
    reader = OnlineReader(store)
    try:
        stored = reader.read_view(plan_view(store, "merchant_risk"), [(i,) for i in range(1, 201)])
    finally:
        reader.close()
        store.close()
    return sum(ts is not None for ts, _ in stored)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("redis", marks=pytest.mark.integration)]
)
def test_rows_created_in_the_future_come_online_at_a_later_incremental_run(
    make_settings: Callable[..., Settings], tmp_path: Path, backend: str
) -> None:
    settings = make_settings(backend)
    assert runner.invoke(app, ["apply"]).exit_code == 0
    path = tmp_path / "merchants.parquet"
    now = datetime.now(UTC)
    _merchants(now).to_parquet(path)
    r = runner.invoke(app, ["ingest", "merchant_risk", str(path), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["written"] == 200
    assert _online_entities(settings) == 100  # the other 100 are not visible yet
    assert runner.invoke(app, ["materialize", "--incremental"]).exit_code == 0
    time.sleep(max(0.0, (now + FUTURE - datetime.now(UTC)).total_seconds()) + 0.5)
    r = runner.invoke(app, ["materialize", "--incremental"])
    assert r.exit_code == 0, r.output
    assert _online_entities(settings) == 200
    r = runner.invoke(app, ["audit", "parity", "--all", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["passed"]


@pytest.mark.integration
def test_a_redis_that_lost_its_state_is_degraded_until_materialized(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings("redis")
    load_project(settings, tmp_path)  # ingests write online: the marker is set
    read = {"features": ["merchant_risk:fraud_rate_30d"], "entities": {"merchant_id": [1, 2]}}
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        health = client.get("/health")
        assert (health.status_code, health.json()["status"]) == (200, "ok")
        assert client.post("/get-online-features", json=read).json()["results"][1]["statuses"] == [
            "PRESENT",
            "PRESENT",
        ]

        _purge_redis_project(settings.project)  # what a restart without persistence leaves

        health = client.get("/health")
        assert health.status_code == 503, health.text
        body = health.json()
        assert body["status"] == "degraded"
        assert "lost the materialized values" in body["reason"]
        assert "merchant_risk" in body["reason"]
        assert "skewless materialize" in body["reason"]

        r = runner.invoke(app, ["audit", "freshness", "--json"])
        assert r.exit_code == 1
        views = json.loads(r.stdout)
        assert views
        assert all(v["lost"] and v["breached"] for v in views)
        r = runner.invoke(app, ["audit", "freshness"])
        assert r.exit_code == 1
        assert "LOST" in r.output
        assert "error: the online store lost" in r.output
        r = runner.invoke(
            app,
            [
                "online",
                "--service",
                "fraud_detection_v1",
                "--entity",
                "customer_id=1",
                "--request",
                "transaction_amount=10",
            ],
        )
        assert r.exit_code == 0, r.output
        assert "warning: the online store lost" in r.output

        # The next incremental run rewrites every version, and health is back.
        assert runner.invoke(app, ["materialize", "--incremental"]).exit_code == 0
        health = client.get("/health")
        assert (health.status_code, health.json()["status"]) == (200, "ok"), health.text
        assert client.post("/get-online-features", json=read).json()["results"][1]["statuses"] == [
            "PRESENT",
            "PRESENT",
        ]
    r = runner.invoke(app, ["audit", "parity", "--all", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["passed"]


def test_an_earlier_releases_state_file_is_imported_once(
    make_settings: Callable[..., Settings],
) -> None:
    from services.online.state import legacy_path, load_state

    settings = make_settings("sqlite")
    store = Store(settings)
    try:
        path = legacy_path(store)
        path.parent.mkdir(parents=True, exist_ok=True)
        legacy = {"format": 2, "views": {"merchant_risk": ["v1", "v2"]}, "markers": {"x": "t"}}
        path.write_text(json.dumps(legacy))
        state = load_state(store)
        assert (state.views, state.markers) == ({"merchant_risk": ["v1", "v2"]}, {"x": "t"})
        assert not path.exists()
        assert path.with_suffix(".json.imported").exists()
        assert load_state(store).views == {"merchant_risk": ["v1", "v2"]}  # from the record now
    finally:
        store.close()
