"""Streamed ingestion at 1M, 5M and 20M rows (x ``--scale``): time and peak RSS per file size.

Each file is the 25-column ``bench_user_activity`` frame, written chunk by chunk (the generator
never holds the whole file either) and ingested by ``ingest_file`` -- the path ``skewless
ingest`` takes -- in a fresh interpreter with ``SKEWLESS_INGEST_BATCH_ROWS`` set. The target is
flat memory: peak RSS should not grow with the file once it is larger than one batch.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench import skewless_side
from bench.data import SEED, WINDOW, _activity, _window_end
from bench.measure import run_task
from bench.report import Row

SIZES = (1_000_000, 5_000_000, 20_000_000)
WRITE_CHUNK = 250_000


def batch_rows(scale: float) -> int:
    """The batch bound the benchmark sets: the default 500k rows, scaled like the files."""
    return max(1_000, round(500_000 * scale))


def write_activity(rows: int, path: Path, group_rows: int) -> Path:
    """Write ``rows`` activity rows to ``path`` in chunks of at most ``WRITE_CHUNK`` rows.

    Row groups of ``group_rows``: a parquet reader decodes a whole row group, so row groups that
    grew with the file would make the reader's memory, not the gate's, grow with it.
    """
    rng = np.random.default_rng(SEED + 2)
    start = _window_end() - WINDOW
    users = max(100, rows // 10)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer: pq.ParquetWriter | None = None
    try:
        done = 0
        while done < rows:
            n = min(WRITE_CHUNK, rows - done)
            table = pa.Table.from_pandas(_activity(rng, n, users, start), preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=group_rows)
            done += n
    finally:
        if writer is not None:
            writer.close()
    return path


def bench_streamed(scale: float, scratch: Path, redis_url: str) -> list[Row]:
    """One ingest per size; a row of rows/s and a row of peak RSS for each."""
    step = batch_rows(scale)
    out: list[Row] = []
    for size in SIZES:
        rows = max(1_000, round(size * scale))
        path = write_activity(rows, scratch / f"activity-{rows}.parquet", step)
        env = skewless_side.env(
            scratch / f"streamed-{uuid.uuid4().hex[:6]}", "bstr", redis_url, "sqlite"
        )
        env["SKEWLESS_INGEST_BATCH_ROWS"] = str(step)
        result: dict[str, Any] = run_task(
            "skewless_ingest_file", {"source": "bench_user_activity", "path": str(path)}, env
        )
        path.unlink()
        extra = {
            "rows": result["rows"],
            "written": result["written"],
            "quarantined": result["quarantined"],
            "seconds": round(result["seconds"], 2),
            "rss_mb": round(result["rss_mb"], 1),
            "batch_rows": step,
        }
        label = f"ingest streamed {rows:,} rows x 25 cols"
        out.append(
            Row(
                label,
                "rows/s",
                result["rows"] / result["seconds"],
                None,
                None,
                "higher",
                note=f"skewless ingest of a parquet file, {step:,}-row batches",
                extra=extra,
            )
        )
        out.append(
            Row(
                f"{label}: peak RSS",
                "MiB",
                result["rss_mb"],
                None,
                None,
                "lower",
                note="whole ingest process (VmHWM); target: flat across file sizes",
                extra=extra,
            )
        )
    return out
