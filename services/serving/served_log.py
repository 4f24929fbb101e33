"""Served-feature logging: a sampled share of served rows, appended to the offline store.

Each worker buffers rows and writes parquet parts under
``<data>/served/<service>/date=<YYYY-MM-DD>/`` (atomic rename), which the drift
audit reads as one dataset. Requests only sample and append to the buffer; a full
buffer, or one older than ``flush_interval_s``, is written by a background thread, never on
the request path, so an audit run minutes after serving sees what was served.
"""

from __future__ import annotations

import os
import random
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from services.offline.temporaries import temporary_for


class Column(Protocol):
    """What a served column offers the log: its name and one value per entity row."""

    name: str
    values: list[Any]


class ServedLog:
    """Thread-safe sampler and buffer; ``flush`` writes a part file."""

    def __init__(
        self,
        root: Path,
        rate: float,
        flush_rows: int = 5_000,
        seed: int | None = None,
        flush_interval_s: float = 5.0,
    ):
        self.root = root
        self.rate = rate
        self.flush_rows = flush_rows
        self._rng = random.Random(seed)
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._flushing: threading.Thread | None = None
        self._stop = threading.Event()
        self._ticker = threading.Thread(
            target=self._tick, args=(flush_interval_s,), name="served-log-interval", daemon=True
        )
        self._ticker.start()

    def _tick(self, interval: float) -> None:
        """Write what is buffered every ``interval`` seconds (an idle server too)."""
        while not self._stop.wait(interval):
            with self._lock:
                pending = any(self._rows.values())
                busy = self._flushing is not None and self._flushing.is_alive()
            if pending and not busy:
                self.flush()

    def record(
        self, service: str, request_id: str, at: datetime, columns: Sequence[Column]
    ) -> None:
        """Sample the rows of one answer (``columns`` hold one value per entity row)."""
        if self.rate <= 0 or not columns:
            return
        rng, rate = self._rng, self.rate
        kept = [i for i in range(len(columns[0].values)) if rng.random() < rate]
        if not kept:
            return
        rows = [
            {"_request_id": request_id, "_served_at": at, **{c.name: c.values[i] for c in columns}}
            for i in kept
        ]
        with self._lock:
            buf = self._rows.setdefault(service, [])
            buf.extend(rows)
            full = len(buf) >= self.flush_rows
            busy = self._flushing is not None and self._flushing.is_alive()
            if full and not busy:
                self._flushing = threading.Thread(
                    target=self.flush, args=(service,), name="served-log-flush", daemon=True
                )
                self._flushing.start()

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
            tmp = temporary_for(path)
            pd.DataFrame(rows).to_parquet(tmp, index=False)
            os.replace(tmp, path)
            written.append(path)
        return written

    def close(self) -> list[Path]:
        """Wait for a background write, then write what is buffered."""
        self._stop.set()
        self._ticker.join(timeout=10)
        with self._lock:
            flushing = self._flushing
        if flushing is not None:
            flushing.join()
        return self.flush()
