"""One test class over every point-in-time engine, and both engines against one oracle.

The DuckDB and Spark engines read the same dataset-version files; every operation callers
use (training join, latest rows for materialization, keys, version times) is checked on
each, and a Hypothesis property runs the same generated batches through both.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

from services.ingestion.gate import ingest_frame
from services.offline.datasets import list_versions
from services.offline.pit import DuckDBEngine, open_engine
from services.offline.spark_engine import SparkEngine
from services.offline.training import join_features
from services.resolution import ServicePlan, plan_view
from services.settings import Settings
from services.store import Store, load_definitions
from tests.integration.test_point_in_time_property import (
    BASE,
    _frame,
    _oracle,
    batches,
    entity_rows,
)

_ids = itertools.count(5_000)


@pytest.fixture(autouse=True)
def _far_horizon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKEWLESS_FUTURE_HORIZON", "30d")


def _entities(first_id: int, rows: list[tuple[int, int]]) -> pa.Table:
    return pa.table(
        {
            "merchant_id": pa.array([first_id + e for e, _ in rows], pa.int64()),
            "event_timestamp": pa.array(
                [BASE + timedelta(hours=h) for _, h in rows], pa.timestamp("us", tz="UTC")
            ),
            "_row": pa.array(range(len(rows)), pa.int64()),
        }
    )


class TestEveryEngine:
    """The same data and expectations on each engine behind ``open_engine``."""

    @pytest.fixture
    def store(self, engine_settings: Settings) -> Store:
        store = Store(engine_settings)
        store.apply(load_definitions(engine_settings.repo_path))
        return store

    def _ingest(self, store: Store) -> tuple[int, list[pd.DataFrame]]:
        first_id = next(_ids) * 10
        # Entity 0: a tie on event time broken by created time, then a later batch
        # re-stating the same (event, created) pair; entity 1: only a row created later.
        frames = [
            _frame([(0, 24, 0, 10), (0, 24, 12, 20), (1, 48, 240, 30)], first_id),
            _frame([(0, 24, 12, 25), (2, 0, 0, 40)], first_id),
        ]
        for frame in frames:
            assert ingest_frame(store, "merchant_risk", frame).accepted
        return first_id, frames

    def test_join_returns_every_row_in_order_with_the_rule(self, store: Store) -> None:
        first_id, frames = self._ingest(store)
        read = plan_view(store, "merchant_risk")
        rows = [(0, 24), (0, 36), (1, 60), (1, 300), (2, 0), (2, 168), (2, 180), (3, 24), (0, 0)]
        with open_engine(store.settings) as engine:
            joined, versions = engine.join(_entities(first_id, rows), read)
        assert len(versions) == 2
        assert joined.column("_row").to_pylist() == list(range(len(rows)))
        got = joined.column("txn_volume_30d").to_pylist()
        want = [_oracle(frames, first_id + e, BASE + timedelta(hours=h)) for e, h in rows]
        assert got == want
        assert joined.schema.field("txn_volume_30d").type == pa.int64()
        assert pa.types.is_timestamp(joined.schema.field("_ts:merchant_risk").type)

    def test_latest_rows_and_keys(self, store: Store) -> None:
        first_id, _ = self._ingest(store)
        read = plan_view(store, "merchant_risk")
        at = BASE + timedelta(hours=40)
        with open_engine(store.settings) as engine:
            versions, batches_ = engine.latest(read, at)
            latest = pa.Table.from_batches(list(batches_)).sort_by("merchant_id")
            some = pa.Table.from_batches(list(engine.latest(read, at, keys=[(first_id + 2,)])[1]))
            keys = engine.entity_keys(read)
            files = [v.path for v in list_versions(store.settings.offline_dir, read.source)]
            window = engine.keys_in(read, files, (BASE, BASE + timedelta(hours=1)))
            newest = engine.newest_times(read, files)
        assert len(versions) == 2
        # At T=40h entity 1's row (created at 288h) is invisible; no ttl filter here.
        assert latest.column("merchant_id").to_pylist() == [first_id, first_id + 2]
        assert latest.column("txn_volume_30d").to_pylist() == [25, 40]
        assert some.column("merchant_id").to_pylist() == [first_id + 2]
        assert keys == [(first_id,), (first_id + 1,), (first_id + 2,)]
        assert window == [(first_id + 2,)]
        assert newest == {
            files[0]: BASE + timedelta(hours=288),
            files[1]: BASE + timedelta(hours=36),
        }

    def test_a_source_without_data_gives_nulls_for_every_row(self, store: Store) -> None:
        read = plan_view(store, "merchant_risk")
        with open_engine(store.settings) as engine:
            joined, versions = engine.join(_entities(1, [(0, 0), (1, 5)]), read)
            assert engine.latest(read, BASE)[0] == []
            assert engine.entity_keys(read) == []
        assert versions == []
        assert joined.column("_row").to_pylist() == [0, 1]
        assert joined.column("txn_volume_30d").to_pylist() == [None, None]


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches_=batches, rows=entity_rows)
@pytest.mark.integration
def test_both_engines_agree_with_the_oracle_cell_for_cell(
    sqlite_settings: Settings,
    spark_session: object,
    batches_: list[list[tuple[int, int, int, int]]],
    rows: list[tuple[int, int]],
) -> None:
    store = Store(sqlite_settings)
    store.apply(load_definitions(sqlite_settings.repo_path))
    spark_store = Store(
        sqlite_settings.model_copy(update={"offline_engine": "spark", "spark_master": "local[2]"})
    )
    first_id = next(_ids) * 10
    frames = [_frame(b, first_id) for b in batches_]
    for frame in frames:
        assert ingest_frame(store, "merchant_risk", frame).accepted
    plan = ServicePlan(name="prop", views=(plan_view(store, "merchant_risk"),), on_demand=())
    entities = pd.DataFrame(
        {
            "merchant_id": pd.array([first_id + e for e, _ in rows], dtype="int64"),
            "event_timestamp": pd.to_datetime(
                [BASE + timedelta(hours=h) for _, h in rows], utc=True
            ),
        }
    )
    duck, _ = join_features(store, plan, entities)
    spark, _ = join_features(spark_store, plan, entities)
    pd.testing.assert_frame_equal(duck, spark)  # 0 cells different, same dtypes
    for i, (e, h) in enumerate(rows):
        expected = _oracle(frames, first_id + e, BASE + timedelta(hours=h))
        actual = spark["txn_volume_30d"].iloc[i]
        assert (None if pd.isna(actual) else int(actual)) == expected, (e, h)
    # Materialization's read at now: the same latest rows on both engines.
    read, now = plan.views[0], datetime.now(UTC)
    with DuckDBEngine(store.settings.offline_dir) as a:
        left = pa.Table.from_batches(list(a.latest(read, now)[1]))
    with open_engine(spark_store.settings) as b:
        assert isinstance(b, SparkEngine)
        right = pa.Table.from_batches(list(b.latest(read, now)[1]))
    order = [("merchant_id", "ascending")]
    assert left.sort_by(order).equals(right.sort_by(order))
    spark_store.close()
    store.close()
