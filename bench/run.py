"""Run every benchmark on one generated data set: ``python -m bench.run --scale S [--quick]``.

Sections: ingestion, streamed ingestion (1M/5M/20M rows), training sets (+ correctness), training
at 1x/4x/16x entity rows on DuckDB, Spark and Feast,
materialization, SDK reads, the String-keyed embedding view (materialize, reads, correctness),
HTTP serving, lineage, CLI process wall times.
Medians over 3 runs (1 with ``--quick``). Writes ``bench/results/latest.{md,json}``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from bench import embedding, feast_side, offline, online, report, skewless_side
from bench.cli import bench_cli
from bench.data import BenchData, generate
from bench.http import WORKERS, bench_http
from bench.ingest_scale import bench_streamed
from bench.ingestion import bench_ingestion
from bench.lineage_bench import bench_lineage
from bench.lineage_rows import lineage_rows
from bench.measure import median, median_runs, run_task
from bench.report import Row
from bench.scaling import bench_cluster_materialize, bench_training_scale

REDIS_URL = "redis://127.0.0.1:6379/13"


class Bench:
    """State shared by the sections: data, projects, stores, scratch folders."""

    def __init__(self, scale: float, quick: bool, scratch: Path, redis_url: str) -> None:
        self.scale, self.quick, self.scratch, self.redis_url = scale, quick, scratch, redis_url
        self.runs = 1 if quick else 3
        tag = uuid.uuid4().hex[:8]
        self.projects = {"skewless": f"bsk{tag}", "feast": f"bfe{tag}", "raw": f"brw{tag}"}
        self.rows: list[Row] = []
        self.notes: list[str] = []
        self.data: BenchData = generate(scale, scratch / "data")
        self.sk_env = skewless_side.env(scratch / "skewless", self.projects["skewless"], redis_url)
        skewless_side.settings_from(self.sk_env)
        self.store = skewless_side.open_store(apply=True)
        self.feast_folder = feast_side.write_repo(
            scratch / "feast", self.projects["feast"], redis_url
        )
        self.feast = feast_side.open_store(self.feast_folder)
        feast_side.apply(self.feast, self.data.stats, self.data.profile, items_path=self.data.items)
        # The same objects in a file registry, for the HTTP rows (same project: same Redis keys).
        feast_side.apply(
            feast_side.open_store(self.feast_folder, registry="file"),
            self.data.stats,
            self.data.profile,
            items_path=self.data.items,
        )

    # -- ingestion -------------------------------------------------------------------------

    def ingestion(self) -> None:
        self.rows.extend(
            bench_ingestion(
                self.scale, self.scratch, self.data, self.sk_env, self.redis_url, self.runs
            )
        )

    # -- training sets ---------------------------------------------------------------------

    def training(self) -> None:
        results, frames = {}, {}
        for engine in ("sql_ref", "skewless", "feast_duckdb", "feast_file", "sql_asof"):
            out = self.scratch / f"train_{engine}.parquet"
            env = self.sk_env if engine == "skewless" else None
            args = {
                "engine": engine,
                "data": str(self.data.folder),
                "out": str(out),
                "feast_folder": str(self.feast_folder),
            }
            results[engine] = median_runs(
                self.runs, lambda _i, a=args, e=env: run_task("training", a, e)
            )
            frames[engine] = pd.read_parquet(out)
        checks = {
            e: offline.compare(frames[e], frames["sql_ref"]) for e in frames if e != "sql_ref"
        }
        self.training_checks = checks
        for feast_engine in ("feast_duckdb", "feast_file"):
            store = feast_engine.removeprefix("feast_")
            correct = {
                "skewless": checks["skewless"],
                "feast": checks[feast_engine],
                "baseline": checks["sql_asof"],
            }
            self.rows.append(
                Row(
                    f"training set, {self.data.entity_rows:,} rows x 25 (feast offline={store})",
                    "s",
                    results["skewless"]["seconds"],
                    results[feast_engine]["seconds"],
                    None,
                    "lower",
                    correct,
                    note=f"reference SQL {results['sql_ref']['seconds']:.2f} s; "
                    "baseline: hand-written dedup + ASOF JOIN (no limit: none known faster)",
                    baseline=results["sql_asof"]["seconds"],
                )
            )
            self.rows.append(
                Row(
                    f"training set peak RSS (feast offline={store})",
                    "MB",
                    results["skewless"]["rss_mb"],
                    results[feast_engine]["rss_mb"],
                    None,
                    "lower",
                    baseline=results["sql_asof"]["rss_mb"],
                )
            )

    def training_scale(self) -> None:
        self.rows.extend(bench_training_scale(self))

    def cluster(self) -> None:
        self._seed_skewless()
        self.rows.extend(bench_cluster_materialize(self))

    # -- materialization -------------------------------------------------------------------

    def _seed_skewless(self) -> None:
        """Give Skewless its offline data (unmeasured) when the ingestion section did not run."""
        from services.offline.datasets import list_versions

        if list_versions(self.store.settings.offline_dir, "bench_user_stats"):
            return
        sources = {
            "bench_user_stats": str(self.data.stats),
            "bench_user_profile": str(self.data.profile),
        }
        run_task("skewless_ingest", {"sources": sources, "limit": None}, self.sk_env)

    def materialization(self) -> None:
        self._seed_skewless()
        d, p = self.data, self.projects
        source_rows = d.stats_rows + d.profile_rows
        start = (d.window_start - timedelta(days=1)).isoformat()
        end = (d.window_end + timedelta(seconds=1)).isoformat()

        def fresh(project: str, name: str, args: dict[str, Any], env: dict[str, str] | None = None):
            def call(_i: int) -> dict[str, Any]:
                online.purge(self.redis_url, project)
                return run_task(name, args, env)

            return median_runs(self.runs, call)

        views = ["bench_user_stats", "bench_user_profile"]
        sk = fresh(p["skewless"], "skewless_materialize", {"views": views}, self.sk_env)
        window = {"feast_folder": str(self.feast_folder), "start": start, "end": end}
        feast = {
            store: fresh(
                p["feast"], "feast_materialize", {**window, "views": views, "offline": store}
            )
            for store in ("file", "duckdb")
        }
        li = fresh(
            p["raw"],
            "raw_materialize",
            {"data": str(d.folder), "project": p["raw"], "redis_url": self.redis_url},
        )
        for store, fe in feast.items():
            self.rows.append(
                Row(
                    f"materialize whole window into Redis (feast offline={store})",
                    "source rows/s",
                    source_rows / sk["seconds"],
                    source_rows / fe["seconds"],
                    source_rows / li["seconds"],
                    "higher",
                    note=f"{source_rows:,} source rows -> {d.users:,} hashes; "
                    "limit: DuckDB latest + protobuf + redis-py pipeline HSET",
                    extra={
                        "seconds": {
                            "skewless": sk["seconds"],
                            "feast": fe["seconds"],
                            "limit": li["seconds"],
                        }
                    },
                )
            )
            self.rows.append(
                Row(
                    f"materialize peak RSS (feast offline={store})",
                    "MB",
                    sk["rss_mb"],
                    fe["rss_mb"],
                    li["rss_mb"],
                    "lower",
                )
            )

    # -- SDK reads ------------------------------------------------------------------------

    def reads(self) -> None:
        self.store.refresh()
        for size in (1, 100):
            fns, close = online.read_fns(
                self.store,
                self.feast,
                self.projects["feast"],
                self.redis_url,
                self.data.users,
                size,
            )
            try:
                runs = [online.read_latency(fns, 1000) for _ in range(self.runs)]
            finally:
                close()
            for pct in ("p50_ms", "p99_ms"):
                values = {k: median([r[k][pct] for r in runs]) for k in fns}
                self.rows.append(
                    Row(
                        f"SDK online read {size} x 25, {pct[:3]}",
                        "ms",
                        values["skewless"],
                        values["feast"],
                        values["limit"],
                        "lower",
                        note="1,000 calls after 50 warm-up; limit: pipelined HMGET, no decode",
                    )
                )

    # -- String-keyed embeddings -----------------------------------------------------------

    def embeddings(self) -> None:
        self.rows += embedding.materialize_rows(self)
        self.rows += embedding.read_rows(self)

    # -- HTTP -----------------------------------------------------------------------------

    def http(self) -> None:
        seconds = 2 if self.quick else 15
        out = bench_http(
            self.scratch, self.sk_env, self.feast_folder, self.data.users, seconds, self.runs
        )
        for workers in WORKERS:
            sk = out[f"skewless_w{workers}"]
            # Feast as a careful user would run it: the better of its SQL and file registries.
            feast_best = max(
                (f"feast_{registry}_w{workers}" for registry in ("sql", "file")),
                key=lambda name: median([r["rps"] for r in out[name]]),
            )
            fe = out[feast_best]
            registry = feast_best.split("_")[1]
            for key, unit, better in (
                ("rps", "req/s", "higher"),
                ("p50_ms", "ms", "lower"),
                ("p99_ms", "ms", "lower"),
                ("errors", "count", "lower"),
            ):
                self.rows.append(
                    Row(
                        f"HTTP 1 x 25, wrk -t2 -c32 -d{seconds}s, {workers} worker(s), {key}",
                        unit,
                        median([r[key] for r in sk]),
                        median([r[key] for r in fe]),
                        None,
                        better,
                        note=f"feast serve --max-requests 0 with its {registry} registry (the "
                        "better of sql and file); no raw HTTP limit",
                        extra={
                            name: median([r[key] for r in runs])
                            for name, runs in out.items()
                            if name.endswith(f"_w{workers}")
                        },
                    )
                )

    # -- lineage --------------------------------------------------------------------------

    def lineage(self) -> None:
        nodes = max(2000, round(100_000 * self.scale))
        out = bench_lineage(
            self.scratch,
            nodes,
            100 if self.quick else 500,
            50 if self.quick else 200,
            self.runs,
            wrk_seconds=5 if self.quick else 10,
        )
        self.notes.append(
            f"lineage graph {out['graph_nodes']:,} nodes bulk-loaded in-process at "
            f"{out['bulk_load_events_per_s']:.0f} events/s"
        )
        self.rows.extend(lineage_rows(out))

    def streamed_ingest(self) -> None:
        """Files of 1M, 5M and 20M rows (x scale) through ``ingest_file``: time and peak RSS."""
        self.rows.extend(bench_streamed(self.scale, self.scratch / "streamed", self.redis_url))

    def cli(self) -> None:
        self.rows.extend(bench_cli(self.scratch))

    def close(self) -> None:
        self.store.close()
        for project in self.projects.values():
            online.purge(self.redis_url, project)


def main(argv: list[str] | None = None) -> list[Row]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--redis-url", default=REDIS_URL)
    parser.add_argument("--only", nargs="*", default=None, help="sections to run (default: all)")
    parser.add_argument("--out", type=Path, default=report.RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args(argv)
    root = Path(os.environ.get("TMPDIR", "/tmp")) / "skewless-bench"
    scratch = root / f"run-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    bench = Bench(args.scale, args.quick, scratch, args.redis_url)
    sections = [
        "ingestion",
        "streamed_ingest",
        "training",
        "training_scale",
        "materialization",
        "cluster",
        "reads",
        "embeddings",
        "http",
        "lineage",
        "cli",
    ]
    try:
        for name in args.only or sections:
            begin = time.monotonic()
            getattr(bench, name)()
            print(f"[bench] {name}: {time.monotonic() - begin:.1f} s", flush=True)
    finally:
        bench.close()
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    note = "; ".join([*bench.notes, f"total {time.monotonic() - started:.0f} s"])
    print(report.write(bench.rows, args.scale, args.quick, note, args.out))
    return bench.rows


if __name__ == "__main__":
    main()
