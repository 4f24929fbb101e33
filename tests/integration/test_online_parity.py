"""Ingest, materialize and read online on SQLite and the real Redis: online == offline == Feast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import redis

from services.audits.parity import audit_parity
from services.ingestion.gate import ingest_file, ingest_frame
from services.online.keys import field_key, redis_key
from services.online.materialize import materialize
from services.online.reader import OnlineReader, online_features
from services.resolution import plan_service
from services.store import Store
from tests.demo_repo import write_demo_data


def _load(store: Store, tmp_path: Path) -> None:
    files = write_demo_data(tmp_path / "raw", customers=60, days=10, seed=3)
    for name, path in files.paths.items():
        assert ingest_file(store, name, path).accepted


def test_parity_after_ingest_materialize_and_late_data(
    applied_store: Store, tmp_path: Path
) -> None:
    _load(applied_store, tmp_path)
    assert audit_parity(applied_store, sample=None).passed  # ingest already wrote online
    materialize(applied_store)
    report = audit_parity(applied_store, service="fraud_detection_v2", sample=None)
    assert report.passed, report.mismatches[:5]
    assert sum(v.cells for v in report.views) > 500

    # A late correction: same event time as customer 5's latest row, created later.
    plan = plan_service(applied_store, "fraud_detection_v1")
    reader = OnlineReader(applied_store)
    before = online_features(reader, plan, {"customer_id": [5]}, {"transaction_amount": [10.0]})
    ts = before.columns[1].event_timestamps[0]
    assert ts is not None
    row = pd.DataFrame(
        {
            "customer_id": [5],
            "event_timestamp": [pd.Timestamp(ts)],
            "created_timestamp": [pd.Timestamp(datetime.now(UTC))],
            "txn_count_1d": [777],
            "txn_amount_sum_1d": [1.0],
            "txn_amount_avg_30d": [2.0],
            "txn_count_30d": [3],
            "declined_count_7d": [0],
            "chargeback_count_90d": pd.array([None], "Int64"),
        }
    )
    assert ingest_frame(applied_store, "customer_transactions_daily", row).accepted
    after = online_features(reader, plan, {"customer_id": [5]}, {"transaction_amount": [10.0]})
    values = {c.name: c.values[0] for c in after.columns}
    assert values["txn_count_1d"] == 777
    assert values["chargeback_count_90d"] is None
    assert values["amount_to_avg_30d_ratio"] == 5.0
    # An older event arriving late does not override the newer one online or offline.
    old = row.assign(event_timestamp=row["event_timestamp"] - timedelta(days=3), txn_count_1d=1)
    assert ingest_frame(applied_store, "customer_transactions_daily", old).accepted
    again = online_features(reader, plan, {"customer_id": [5]}, {"transaction_amount": [10.0]})
    assert {c.name: c.values[0] for c in again.columns}["txn_count_1d"] == 777
    assert audit_parity(applied_store, sample=None).passed
    reader.close()


def test_unknown_entities_are_not_found_and_statuses_are_honest(
    applied_store: Store, tmp_path: Path
) -> None:
    _load(applied_store, tmp_path)
    reader = OnlineReader(applied_store)
    result = online_features(
        reader,
        plan_service(applied_store, "fraud_detection_v1"),
        {"customer_id": [10**9]},
        {"transaction_amount": [1.0]},
    )
    statuses = {c.name: c.statuses[0] for c in result.columns}
    assert statuses["txn_count_1d"] == "NOT_FOUND"
    assert statuses["country"] == "NOT_FOUND"
    reader.close()


def test_the_audit_catches_a_tampered_online_value(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings("redis")
    store = Store(settings)
    from services.store import load_definitions

    store.apply(load_definitions(settings.repo_path))
    _load(store, tmp_path)
    client = redis.Redis.from_url(settings.redis_url)
    import pyarrow as pa

    from services.contracts.types import INT64
    from services.online.codec import encode_column
    from services.resolution import plan_view

    spec = next(f for f in plan_view(store, "merchant_risk").features if f.name == "txn_volume_30d")
    bogus = encode_column(pa.array([123456789], pa.int64()), spec.type)[0].SerializeToString()
    client.hset(
        redis_key(settings.project, [("merchant_id", INT64)], [3]),
        field_key("merchant_risk", "txn_volume_30d"),
        bogus,
    )
    report = audit_parity(store, sample=None)
    assert not report.passed
    bad = [m for m in report.mismatches if m.against == "offline"]
    assert [(m.view, m.entity, m.feature, m.online) for m in bad] == [
        ("merchant_risk", 3, "txn_volume_30d", 123456789)
    ]
    client.close()
    store.close()
