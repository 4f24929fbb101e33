"""Online side: the raw Redis write limit, and SDK read latency (Skewless, Feast, raw HMGET).

Every engine writes/reads Feast's own Redis layout (one hash per entity key + project,
fields ``mmh3(view:feature)`` holding serialized ``ValueProto`` and ``_ts:<view>``), so the
three read paths fetch the same bytes; each project has its own keys.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import redis
from feast.protos.feast.types.Value_pb2 import Value as ValueProto

from bench.measure import time_calls
from bench.offline import PROFILE_FEATURES, STATS_FEATURES
from services.contracts.types import INT64
from services.online.codec import encode_timestamp
from services.online.keys import field_key, redis_key, ts_key

USER_KEY = [("user_id", INT64)]

VIEWS = (
    ("bench_user_stats", "user_stats", STATS_FEATURES),
    ("bench_user_profile", "user_profile", PROFILE_FEATURES),
)


def _proto(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, float):
        return ValueProto(double_val=value).SerializeToString()
    if isinstance(value, int):
        return ValueProto(int64_val=value).SerializeToString()
    return ValueProto(string_val=str(value)).SerializeToString()


def raw_write(folder: Path, project: str, redis_url: str, batch: int = 5000) -> int:
    """Latest row per user (DuckDB), encoded with protobuf, HSET through a pipeline."""
    client = redis.Redis.from_url(redis_url)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    written = 0
    try:
        for view, source, feats in VIEWS:
            fields = [field_key(view, f) for f in feats]
            tsk = ts_key(view)
            reader = con.sql(
                f"SELECT user_id, event_timestamp, {', '.join(feats)} "
                f"FROM read_parquet('{folder / f'{source}.parquet'}') "
                "QUALIFY row_number() OVER (PARTITION BY user_id "
                "ORDER BY event_timestamp DESC, created_timestamp DESC) = 1"
            ).fetch_record_batch(batch)
            for record_batch in reader:
                columns = [
                    record_batch.column(i).to_pylist() for i in range(record_batch.num_columns)
                ]
                pipe = client.pipeline(transaction=False)
                for row in zip(*columns, strict=True):
                    mapping: dict[bytes | str, bytes] = {tsk: encode_timestamp(row[1])}
                    for fkey, value in zip(fields, row[2:], strict=True):
                        mapping[fkey] = _proto(value)
                    pipe.hset(redis_key(project, USER_KEY, [row[0]]), mapping=mapping)
                pipe.execute()
                written += record_batch.num_rows
    finally:
        con.close()
        client.close()
    return written


def _id_batches(users: int, size: int, seed: int = 7) -> Iterator[list[int]]:
    rng = np.random.default_rng(seed)
    pool = [[int(x) for x in rng.integers(1, users + 1, size)] for _ in range(64)]
    return itertools.cycle(pool)


def read_fns(
    skewless_store: Any, feast_store: Any, feast_project: str, redis_url: str, users: int, size: int
) -> tuple[dict[str, Callable[[], Any]], Callable[[], None]]:
    """The three read calls for ``size`` entities, and a function closing their clients."""
    fields: list[bytes | str] = []
    for view, _, feats in VIEWS:
        fields += [field_key(view, f) for f in feats] + [ts_key(view)]
    return service_reads(
        skewless_store,
        feast_store,
        feast_project,
        redis_url,
        service="bench_service",
        key=USER_KEY,
        fields=fields,
        batches=lambda: _id_batches(users, size),
    )


def service_reads(
    skewless_store: Any,
    feast_store: Any,
    feast_project: str,
    redis_url: str,
    *,
    service: str,
    key: list[tuple[str, Any]],
    fields: list[bytes | str],
    batches: Callable[[], Iterator[list[Any]]],
) -> tuple[dict[str, Callable[[], Any]], Callable[[], None]]:
    """Skewless, Feast and raw HMGET reads of one service, each call a batch of keys.

    ``key`` is the view's one join key (name, type); ``fields`` the raw HMGET field names;
    ``batches`` makes an endless iterator of key lists (one per engine, the same sequence).
    """
    from services.online.reader import OnlineReader, online_features
    from services.resolution import plan_service

    reader = OnlineReader(skewless_store)
    plan = plan_service(skewless_store, service)
    feast_service = feast_store.get_feature_service(service)
    client = redis.Redis.from_url(redis_url)
    name = key[0][0]
    ids_s, ids_f, ids_r = (batches() for _ in range(3))

    def skewless() -> Any:
        return online_features(reader, plan, {name: next(ids_s)})

    def feast() -> Any:
        rows = [{name: i} for i in next(ids_f)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return feast_store.get_online_features(
                features=feast_service, entity_rows=rows
            ).to_dict()

    def raw() -> Any:
        pipe = client.pipeline(transaction=False)
        for i in next(ids_r):
            pipe.hmget(redis_key(feast_project, key, [i]), fields)
        return pipe.execute()

    def close() -> None:
        reader.close()
        client.close()

    return {"skewless": skewless, "feast": feast, "limit": raw}, close


def read_latency(fns: dict[str, Callable[[], Any]], calls: int) -> dict[str, dict[str, float]]:
    return {name: time_calls(fn, calls) for name, fn in fns.items()}


def purge(redis_url: str, project: str, prefix: bytes = b"") -> int:
    """Delete every key of a project (keys end with the project name) that starts with ``prefix``.

    ``prefix`` is the head of a serialized entity key (``services.online.codec.key_layout``),
    so one entity's hashes can go while another's stay.
    """
    client = redis.Redis.from_url(redis_url)
    deleted = 0
    escaped = b"".join(b"\\" + bytes([c]) if c in b"*?[]\\" else bytes([c]) for c in prefix)
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=escaped + b"*" + project.encode(), count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += client.delete(*batch)
                batch.clear()
        if batch:
            deleted += client.delete(*batch)
    finally:
        client.close()
    return deleted
