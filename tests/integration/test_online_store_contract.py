"""One test class over every online store: SQLite through Feast, one Redis, a Redis Cluster.

Callers hold an ``OnlineStore`` from ``open_online_store`` and never ask which one it is; this is
the contract they rely on, checked against each real store: rows written are read back exactly
(values, nulls, event times to the microsecond), a missing entity reads as absent, a later
write replaces, views sharing a join key are read in one request, the async read equals the
sync one, and loss markers round-trip where the store can lose its values.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from services.online.stores import OnlineStore, open_online_store
from services.resolution import ViewRead, plan_view
from services.settings import Settings
from services.store import Store, load_definitions

AT = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)


def _values(arrow: pa.DataType, n: int, shift: int) -> list[Any]:
    """``n`` distinct values of ``arrow``'s type, the last one null."""
    if pa.types.is_integer(arrow):
        values: list[Any] = [i * 7 + shift for i in range(n)]
    elif pa.types.is_floating(arrow):
        values = [i * 0.25 + shift for i in range(n)]
    elif pa.types.is_boolean(arrow):
        values = [(i + shift) % 2 == 0 for i in range(n)]
    elif pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        values = [f"v{i}-{shift}" for i in range(n)]
    else:
        raise AssertionError(f"no sample values for {arrow}")
    return [*values[:-1], None]


def _batch(read: ViewRead, ids: list[Any], shift: int = 0) -> pa.Table:
    n = len(ids)
    columns: dict[str, pa.Array] = {k.name: pa.array(ids, type=k.type.arrow()) for k in read.keys}
    stamps = [AT - timedelta(microseconds=i) for i in range(n)]
    columns["event_timestamp"] = pa.array(stamps, type=pa.timestamp("us", tz="UTC"))
    columns["created_timestamp"] = pa.array(stamps, type=pa.timestamp("us", tz="UTC"))
    for f in read.features:
        columns[f.name] = pa.array(_values(f.type.arrow(), n, shift), type=f.type.arrow())
    return pa.table(columns)


@pytest.fixture
def online(applied_store: Store) -> Any:
    backend = open_online_store(applied_store)
    yield applied_store, backend
    backend.close()


class TestOnlineStore:
    def test_rows_written_read_back_exactly_and_missing_ones_are_absent(self, online: Any) -> None:
        store, backend = online
        read = plan_view(store, "merchant_risk")
        ids = [101, 102, 103]
        batch = _batch(read, ids)
        assert backend.write(read, batch) == 3
        ((stamps, values),) = backend.read_columns([(read, [(i,) for i in [*ids, 999]])])
        assert stamps == [*batch.column("event_timestamp").to_pylist(), None]
        for f in read.features:
            assert values[f.name] == [*batch.column(f.name).to_pylist(), None], f.name

    def test_a_later_write_replaces_the_value(self, online: Any) -> None:
        store, backend = online
        read = plan_view(store, "customer_profile")
        backend.write(read, _batch(read, [7, 8], shift=0))
        newer = _batch(read, [7, 8], shift=5)
        backend.write(read, newer)
        ((_, values),) = backend.read_columns([(read, [(7,), (8,)])])
        for f in read.features:
            assert values[f.name] == newer.column(f.name).to_pylist(), f.name

    def test_views_sharing_a_key_come_back_from_one_request(self, online: Any) -> None:
        store, backend = online
        profile = plan_view(store, "customer_profile")
        daily = plan_view(store, "customer_transactions_daily")
        a, b = _batch(profile, [1, 2]), _batch(daily, [1, 2], shift=3)
        backend.write(profile, a)
        backend.write(daily, b)
        keys = [(1,), (2,), (3,)]
        got = backend.read_columns([(profile, keys), (daily, keys)])
        for (stamps, values), batch, read in ((got[0], a, profile), (got[1], b, daily)):
            assert stamps[2] is None
            for f in read.features:
                assert values[f.name][:2] == batch.column(f.name).to_pylist(), f.name

    def test_the_async_read_is_the_sync_read(self, online: Any) -> None:
        store, backend = online
        read = plan_view(store, "merchant_risk")
        backend.write(read, _batch(read, [5, 6]))
        wanted = [(read, [(5,), (6,), (4,)])]

        async def both() -> Any:
            answer = await backend.read_columns_async(wanted)
            await backend.aclose()  # the event loop's connections close with it
            return answer

        assert asyncio.run(both()) == backend.read_columns(wanted)

    def test_it_answers_and_keeps_markers_where_values_can_be_lost(self, online: Any) -> None:
        store, backend = online
        backend: OnlineStore
        assert backend.ping()
        backend.set_markers({"merchant_risk": "t1", "customer_profile": "t2"})
        expected = {"merchant_risk": "t1", "customer_profile": "t2"}
        assert backend.markers() == (expected if backend.tracks_loss else {})
        assert backend.tracks_loss == store.settings.uses_redis


def test_a_sqlite_file_replaced_after_apply_reads_absent_and_takes_writes(
    sqlite_settings: Settings,
) -> None:
    # Regression: with the file deleted (or the online path changed) after apply, the new file
    # had no tables; reads and writes alike failed with a traceback, "no such table".
    store = Store(sqlite_settings)
    store.apply(load_definitions(sqlite_settings.repo_path))
    read = plan_view(store, "merchant_risk")
    first = open_online_store(store)
    first.write(read, _batch(read, [1, 2]))
    first.close()
    store.close()
    sqlite_settings.online_sqlite_path.unlink()

    store = Store(sqlite_settings)  # as the next command sees it
    backend = open_online_store(store)
    try:
        ((stamps, _),) = backend.read_columns([(read, [(1,), (2,)])])
        assert stamps == [None, None]
        again = _batch(read, [1, 2], shift=3)
        assert backend.write(read, again) == 2
        ((stamps, values),) = backend.read_columns([(read, [(1,), (2,)])])
        assert stamps == again.column("event_timestamp").to_pylist()
        for f in read.features:
            assert values[f.name] == again.column(f.name).to_pylist(), f.name
    finally:
        backend.close()
        store.close()
