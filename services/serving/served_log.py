"""Served-feature logging: a sampled share of served rows, appended to the offline store.

Each worker buffers rows and writes parquet parts under
``<data>/served/<service>/date=<YYYY-MM-DD>/`` (atomic rename), which the drift
audit reads as one dataset.
"""

from __future__ import annotations

import os
import random
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd


class ServedLog:
    """Thread-safe sampler and buffer; ``flush`` writes a part file."""

    def __init__(self, root: Path, rate: float, flush_rows: int = 5_000, seed: int | None = None):
        self.root = root
        self.rate = rate
        self.flush_rows = flush_rows
        self._rng = random.Random(seed)
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def record(
        self, service: str, request_id: str, at: datetime, rows: list[dict[str, Any]]
    ) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            kept = [r for r in rows if self._rng.random() < self.rate]
            if not kept:
                return
            buf = self._rows.setdefault(service, [])
            buf.extend({"_request_id": request_id, "_served_at": at, **r} for r in kept)
            full = len(buf) >= self.flush_rows
        if full:
            self.flush(service)

    def flush(self, service: str | None = None) -> list[Path]:
        with self._lock:
            names = [service] if service else list(self._rows)
            batches = {n: self._rows.pop(n, []) for n in names}
        written = []
        for name, rows in batches.items():
            if not rows:
                continue
            folder = self.root / name / f"date={datetime.now(UTC):%Y-%m-%d}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"part-{uuid.uuid4().hex}.parquet"
            tmp = folder / f".{path.name}.tmp-{os.getpid()}"
            pd.DataFrame(rows).to_parquet(tmp, index=False)
            os.replace(tmp, path)
            written.append(path)
        return written
