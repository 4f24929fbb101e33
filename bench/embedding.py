"""The String-keyed embedding rows: materialize and 100-entity reads of ``bench_item_embedding``.

The view has a UUID text key, a 64-float ``embedding`` and 10 scalars of mixed types. Skewless,
Feast (Redis online store, ``file`` offline store, as in the main materialize row) and the raw
limit each write their own project, in Feast's Redis layout; the read rows fetch the same
items from each. :func:`check_items` then compares, item by item, what each engine's project
answers with the latest source row of the item read straight from the parquet file by DuckDB,
and Skewless's hashes with Feast's byte for byte.

The section only purges item hashes (keys that start with the serialized ``item_id`` key), so
it can run before or after the user rows without touching their data.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import redis
from feast.protos.feast.types.Value_pb2 import FloatList
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.type_map import feast_value_type_to_python_type

from bench import online
from bench.contracts import ITEM_EMBEDDING, BenchItemEmbedding
from bench.measure import median, run_task
from bench.report import Row
from services.contracts.schema import feature_specs
from services.contracts.types import STRING
from services.online.codec import encode_timestamp
from services.online.keys import field_key, key_layout, redis_key, ts_key

if TYPE_CHECKING:
    from bench.run import Bench

ITEM_KEY = [("item_id", STRING)]
ITEM_PREFIX = key_layout(tuple(ITEM_KEY))[0]  # every item hash key starts with these bytes
SERVICE = "bench_item_service"
FEATURES = [(s.name, str(s.type)) for s in feature_specs(BenchItemEmbedding)]
NAMES = [name for name, _ in FEATURES]
CHECKED_ITEMS = 5_000  # items compared across engines (all of them below that)
_PROTO_FIELD = {
    "Float32": "float_val",
    "Float64": "double_val",
    "Int32": "int32_val",
    "Int64": "int64_val",
    "Bool": "bool_val",
    "String": "string_val",
}


def _proto(value: Any, kind: str) -> bytes:
    """One value as Feast's serialized ``Value`` (b"" for null), by the protobuf classes."""
    if value is None:
        return b""
    if kind == "Array(Float32)":
        return ValueProto(float_list_val=FloatList(val=value)).SerializeToString()
    return ValueProto(**{_PROTO_FIELD[kind]: value}).SerializeToString()


def _latest_sql(path: Path, where: str = "") -> str:
    return (
        f"SELECT item_id, event_timestamp, {', '.join(NAMES)} FROM read_parquet('{path}') "
        f"{where} QUALIFY row_number() OVER (PARTITION BY item_id "
        "ORDER BY event_timestamp DESC, created_timestamp DESC) = 1"
    )


def raw_write(path: Path, project: str, redis_url: str, batch: int = 5000) -> int:
    """The limit: latest row per item (DuckDB), protobuf per value, redis-py pipeline HSET."""
    client = redis.Redis.from_url(redis_url)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    fields = [field_key(ITEM_EMBEDDING, name) for name in NAMES]
    kinds = [kind for _, kind in FEATURES]
    tsk = ts_key(ITEM_EMBEDDING)
    written = 0
    try:
        for record_batch in con.sql(_latest_sql(path)).fetch_record_batch(batch):
            columns = [c.to_pylist() for c in record_batch.columns]
            pipe = client.pipeline(transaction=False)
            for row in zip(*columns, strict=True):
                mapping: dict[bytes | str, bytes] = {tsk: encode_timestamp(row[1])}
                for fkey, kind, value in zip(fields, kinds, row[2:], strict=True):
                    mapping[fkey] = _proto(value, kind)
                pipe.hset(redis_key(project, ITEM_KEY, [row[0]]), mapping=mapping)
            pipe.execute()
            written += record_batch.num_rows
    finally:
        con.close()
        client.close()
    return written


def _id_batches(ids: Sequence[str], size: int, seed: int = 7) -> Iterator[list[str]]:
    rng = np.random.default_rng(seed)
    pool = [[ids[i] for i in rng.integers(0, len(ids), size)] for _ in range(64)]
    return itertools.cycle(pool)


def read_fns(
    skewless_store: Any, feast_store: Any, feast_project: str, redis_url: str, ids: Sequence[str]
) -> tuple[dict[str, Callable[[], Any]], Callable[[], None]]:
    """Skewless, Feast and raw HMGET reads of 100 items each call, and their closer."""
    fields: list[bytes | str] = [field_key(ITEM_EMBEDDING, n) for n in NAMES]
    fields.append(ts_key(ITEM_EMBEDDING).encode())
    return online.service_reads(
        skewless_store,
        feast_store,
        feast_project,
        redis_url,
        service=SERVICE,
        key=ITEM_KEY,
        fields=fields,
        batches=lambda: _id_batches(ids, 100),
    )


# -- exactness ----------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same Python type (floats bit-exact, lists element by element)."""
    a, b = _plain(a), _plain(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def reference(path: Path, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Latest source row per item, straight from the parquet file (DuckDB + Arrow)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    try:
        con.register("wanted", pa.table({"item_id": pa.array(ids, pa.string())}))
        where = "WHERE item_id IN (SELECT item_id FROM wanted)"
        rows = con.sql(_latest_sql(path, where)).to_arrow_table().to_pylist()
    finally:
        con.close()
    return {r["item_id"]: {n: r[n] for n in NAMES} for r in rows}


def _diff(got: dict[str, dict[str, Any]], ref: dict[str, dict[str, Any]]) -> dict[str, Any]:
    per_column: dict[str, int] = {}
    missing = 0
    for item, expected in ref.items():
        answer = got.get(item)
        if answer is None:
            missing += 1
            continue
        for name in NAMES:
            if not _same(answer.get(name), expected[name]):
                per_column[name] = per_column.get(name, 0) + 1
    return {
        "items_expected": len(ref),
        "items_missing": missing,
        "cells_differ": sum(per_column.values()),
        "columns_differ": per_column,
    }


def _chunks(ids: Sequence[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _skewless_answers(store: Any, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    from services.online.reader import OnlineReader, online_features
    from services.resolution import plan_service

    reader = OnlineReader(store)
    plan = plan_service(store, SERVICE)
    out: dict[str, dict[str, Any]] = {}
    try:
        for chunk in _chunks(ids):
            result = online_features(reader, plan, {"item_id": chunk})
            cols = {c.name: c for c in result.columns}
            for i, item in enumerate(chunk):
                if cols[NAMES[0]].statuses[i] != "NOT_FOUND":
                    out[item] = {n: cols[n].values[i] for n in NAMES}
    finally:
        reader.close()
    return out


def _feast_answers(feast_store: Any, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    service = feast_store.get_feature_service(SERVICE)
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(ids):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            answer = feast_store.get_online_features(
                features=service, entity_rows=[{"item_id": i} for i in chunk]
            ).to_dict()
        for i, item in enumerate(answer["item_id"]):
            out[item] = {n: answer[n][i] for n in NAMES}
    return out


def _hashes(client: Any, project: str, ids: Sequence[str]) -> list[dict[bytes, bytes]]:
    pipe = client.pipeline(transaction=False)
    for i in ids:
        pipe.hgetall(redis_key(project, ITEM_KEY, [i]))
    hashes: list[dict[bytes, bytes]] = pipe.execute()
    return hashes


def _raw_answers(hashes: Sequence[dict[bytes, bytes]], ids: Sequence[str]) -> dict[str, Any]:
    """The raw project's values, decoded by Feast's own ``Value`` decoder."""
    out: dict[str, dict[str, Any]] = {}
    for item, stored in zip(ids, hashes, strict=True):
        if stored:
            out[item] = {
                n: feast_value_type_to_python_type(
                    ValueProto.FromString(stored[field_key(ITEM_EMBEDDING, n)])
                )
                for n in NAMES
            }
    return out


def check_items(bench: Bench, ids: Sequence[str]) -> dict[str, Any]:
    """Each engine's online answers against the source, and Skewless's hashes against Feast's."""
    ref = reference(bench.data.items, ids)
    client = redis.Redis.from_url(bench.redis_url)
    try:
        sk_hashes = _hashes(client, bench.projects["skewless"], ids)
        fe_hashes = _hashes(client, bench.projects["feast"], ids)
        raw_hashes = _hashes(client, bench.projects["raw"], ids)
    finally:
        client.close()
    skewless = _diff(_skewless_answers(bench.store, ids), ref)
    skewless["hashes_differ_from_feast"] = sum(
        a != b for a, b in zip(sk_hashes, fe_hashes, strict=True)
    )
    return {
        "skewless": skewless,
        "feast": _diff(_feast_answers(bench.feast, ids), ref),
        "limit": _diff(_raw_answers(raw_hashes, ids), ref),
    }


# -- the section --------------------------------------------------------------------------


def _seed_skewless(bench: Bench) -> None:
    """Give Skewless the item data (unmeasured), through the contract gate."""
    from services.offline.datasets import list_versions

    if list_versions(bench.store.settings.offline_dir, ITEM_EMBEDDING):
        return
    sources = {ITEM_EMBEDDING: str(bench.data.items)}
    run_task("skewless_ingest", {"sources": sources}, bench.sk_env)


def materialize_rows(bench: Bench) -> list[Row]:
    """Materialize the item view into Redis: Skewless vs Feast vs the raw limit."""
    _seed_skewless(bench)
    d, p = bench.data, bench.projects
    start = (d.window_start - timedelta(days=1)).isoformat()
    end = (d.window_end + timedelta(seconds=1)).isoformat()
    tasks = {
        "skewless": ("skewless_materialize", {"views": [ITEM_EMBEDDING]}, bench.sk_env),
        "feast": (
            "feast_materialize",
            {
                "feast_folder": str(bench.feast_folder),
                "start": start,
                "end": end,
                "views": [ITEM_EMBEDDING],
            },
            None,
        ),
        "limit": (
            "raw_materialize_items",
            {"path": str(d.items), "project": p["raw"], "redis_url": bench.redis_url},
            None,
        ),
    }
    projects = {"skewless": p["skewless"], "feast": p["feast"], "limit": p["raw"]}
    out: dict[str, dict[str, Any]] = {}
    for engine, (name, args, env) in tasks.items():
        runs = []
        for _ in range(bench.runs):
            online.purge(bench.redis_url, projects[engine], prefix=ITEM_PREFIX)
            runs.append(run_task(name, args, env))
        out[engine] = {k: median([r[k] for r in runs]) for k in ("seconds", "rss_mb")}
    rows = d.item_rows
    return [
        Row(
            "materialize item embeddings (String key, 64 x Float32 + 10) into Redis",
            "source rows/s",
            rows / out["skewless"]["seconds"],
            rows / out["feast"]["seconds"],
            rows / out["limit"]["seconds"],
            "higher",
            note=f"{rows:,} source rows -> {d.item_count:,} hashes; feast offline=file; "
            "limit: DuckDB latest + protobuf + redis-py pipeline HSET",
            extra={"view": ITEM_EMBEDDING, "seconds": {k: v["seconds"] for k, v in out.items()}},
        ),
        Row(
            "materialize item embeddings peak RSS",
            "MB",
            out["skewless"]["rss_mb"],
            out["feast"]["rss_mb"],
            out["limit"]["rss_mb"],
            "lower",
            extra={"view": ITEM_EMBEDDING},
        ),
    ]


def read_rows(bench: Bench) -> list[Row]:
    """100-item SDK reads, then the exactness check on the projects just read."""
    bench.store.refresh()
    ids = pq.read_table(bench.data.items, columns=["item_id"]).column(0).unique().to_pylist()
    ids.sort()
    fns, close = read_fns(bench.store, bench.feast, bench.projects["feast"], bench.redis_url, ids)
    try:
        runs = [online.read_latency(fns, 1000) for _ in range(bench.runs)]
    finally:
        close()
    rng = np.random.default_rng(11)
    checked = [ids[i] for i in sorted(rng.permutation(len(ids))[:CHECKED_ITEMS])]
    correct = check_items(bench, checked)
    rows = []
    for pct in ("p50_ms", "p99_ms"):
        values = {k: median([r[k][pct] for r in runs]) for k in fns}
        rows.append(
            Row(
                f"SDK online read 100 items x (64 x Float32 + 10), {pct[:3]}",
                "ms",
                values["skewless"],
                values["feast"],
                values["limit"],
                "lower",
                correct if pct == "p50_ms" else None,
                note="String keys; 1,000 calls after 50 warm-up; limit: pipelined HMGET, no decode",
                extra={"view": ITEM_EMBEDDING},
            )
        )
    return rows
