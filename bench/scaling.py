"""Scaling rows: training sets at 1x, 4x and 16x the entity rows; materializing into a cluster.

The entity frame is the benchmark's own, repeated with each copy's event times moved by up to
half a day either way (seeded), so the keys and the time range stay realistic. Each engine runs
in a fresh process (time and peak RSS): Skewless on DuckDB, Skewless on Spark ``local[2]``
(session started before the clock) and Feast's duckdb offline store. Spark's frame is compared
with DuckDB's cell for cell at every scale.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bench import offline
from bench.measure import median, run_task
from bench.report import Row

if TYPE_CHECKING:
    from bench.run import Bench

SPARK = {
    "SKEWLESS_OFFLINE_ENGINE": "spark",
    "SKEWLESS_SPARK_MASTER": "local[2]",
    "SKEWLESS_SPARK_CONF": '{"spark.sql.shuffle.partitions": "4", "spark.driver.memory": "4g"}',
}


def scaled_entities(source: Path, factor: int, out: Path, seed: int = 11) -> Path:
    """``factor`` copies of the entity frame, each copy's times moved by up to +-12 h."""
    frame = pd.read_parquet(source)
    rng = np.random.default_rng(seed)
    copies = []
    for i in range(factor):
        copy = frame.copy()
        copy["row_id"] = copy["row_id"] + i * len(frame)  # each row keeps its own id
        if i:
            shift = rng.integers(-43_200, 43_200, len(copy))
            copy["event_timestamp"] = copy["event_timestamp"] + pd.to_timedelta(shift, unit="s")
        copies.append(copy)
    pd.concat(copies, ignore_index=True).to_parquet(out, index=False)
    return out


def bench_training_scale(bench: Bench) -> list[Row]:
    rows: list[Row] = []
    factors = (1, 4) if bench.quick else (1, 4, 16)
    for factor in factors:
        entities = scaled_entities(
            bench.data.folder / "entities.parquet",
            factor,
            bench.scratch / f"entities_{factor}x.parquet",
        )
        results: dict[str, dict[str, Any]] = {}
        frames: dict[str, pd.DataFrame] = {}
        for name, engine, env in (
            ("duckdb", "skewless", bench.sk_env),
            ("spark", "skewless", {**bench.sk_env, **SPARK}),
            ("feast", "feast_duckdb", None),
        ):
            out = bench.scratch / f"scale_{factor}x_{name}.parquet"
            args = {
                "engine": engine,
                "data": str(bench.data.folder),
                "out": str(out),
                "feast_folder": str(bench.feast_folder),
                "entities_path": str(entities),
            }
            results[name] = run_task("training", args, env)
            frames[name] = pd.read_parquet(out)
        n = results["duckdb"]["rows"]
        same = offline.compare(frames["spark"], frames["duckdb"])
        note = (
            f"peak RSS: DuckDB {results['duckdb']['rss_mb']:.0f} MB, Spark driver "
            f"{results['spark']['rss_mb']:.0f} MB (its JVM not counted), Feast "
            f"{results['feast']['rss_mb']:.0f} MB"
        )
        rows.append(
            Row(
                f"training set scaling {factor}x ({n:,} entity rows), DuckDB",
                "s",
                results["duckdb"]["seconds"],
                results["feast"]["seconds"],
                None,
                "lower",
                note=note,
                baseline=results["spark"]["seconds"],
                extra={"factor": factor, "spark_vs_duckdb": same},
            )
        )
        rows.append(
            Row(
                f"training set scaling {factor}x ({n:,} entity rows), Spark local[2]",
                "s",
                results["spark"]["seconds"],
                results["feast"]["seconds"],
                None,
                "lower",
                correct={"spark_vs_duckdb": same},
                note="same frame as DuckDB, cell for cell; baseline: Skewless on DuckDB",
                baseline=results["duckdb"]["seconds"],
                extra={"factor": factor},
            )
        )
    return rows


def _cluster_yaml(bench: Bench, nodes: str) -> Path:
    """Feast's own config for the same project and registry, online on the cluster."""
    from bench.feast_side import yaml_file

    text = yaml_file(bench.feast_folder, "duckdb").read_text()
    head, _, rest = text.partition("online_store:\n")
    _, _, tail = rest.partition("offline_store:")
    online = f'  type: redis\n  redis_type: redis_cluster\n  connection_string: "{nodes}"\n'
    out = bench.feast_folder / "feature_store_cluster.yaml"
    out.write_text(f"{head}online_store:\n{online}offline_store:{tail}")
    return out


def bench_cluster_materialize(bench: Bench) -> list[Row]:
    """Materialize the whole window into a 3-master Redis Cluster, against one Redis and Feast.

    The cluster (three masters, three replicas) is started from this machine's
    ``redis-server`` as the tests start theirs; every node shares the same two cores here, so
    the row shows the cost of routing by slot, not a cluster's added capacity.
    """
    from tests.cluster import RedisClusterProcesses

    views = ["bench_user_stats", "bench_user_profile"]
    d = bench.data
    rows = d.stats_rows + d.profile_rows
    window = {
        "feast_folder": str(bench.feast_folder),
        "start": (d.window_start - timedelta(days=1)).isoformat(),
        "end": (d.window_end + timedelta(seconds=1)).isoformat(),
        "views": views,
        "offline": "duckdb",
    }
    cluster = RedisClusterProcesses(bench.scratch / "cluster").start()
    try:
        env = {
            **bench.sk_env,
            "SKEWLESS_ONLINE_STORE": "redis_cluster",
            "SKEWLESS_REDIS_CLUSTER_NODES": cluster.nodes,
        }
        yaml = str(_cluster_yaml(bench, cluster.nodes))
        runs = range(bench.runs)
        on_cluster = [run_task("skewless_materialize", {"views": views}, env) for _ in runs]
        one_redis = [run_task("skewless_materialize", {"views": views}, bench.sk_env) for _ in runs]
        feast = [run_task("feast_materialize", {**window, "yaml": yaml}) for _ in runs]
    finally:
        cluster.stop()
    sk, single, fe = (median([r["seconds"] for r in rs]) for rs in (on_cluster, one_redis, feast))
    return [
        Row(
            "materialize whole window into a 3-master Redis Cluster (feast offline=duckdb)",
            "source rows/s",
            rows / sk,
            rows / fe,
            None,
            "higher",
            note=f"{rows:,} source rows; baseline: Skewless into one Redis; all six nodes share "
            "the same 2 cores here",
            baseline=rows / single,
        )
    ]
