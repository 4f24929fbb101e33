"""The ingestion gate for a file of several batches (see ``services.ingestion.stream``).

Same result, reasons, quarantine, report, version id and online writes as ``ingest_frame`` on
the whole file; memory bounded by ``SKEWLESS_INGEST_BATCH_ROWS`` rows at a time.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from services.contracts.base import Policy
from services.contracts.schema import schema_fingerprint, source_spec
from services.ingestion.gate import IngestResult, _write_report
from services.ingestion.stream import (
    QuarantineFile,
    SeenKeys,
    Tally,
    VersionFile,
    later,
    newest_of,
    quarantine_rows,
    stream_attempt,
    validate_batch,
)
from services.lineage_events import emit_ingest, emit_materialize
from services.offline.datasets import DatasetVersion, reports_dir
from services.store import Store

Frames = Callable[[], Iterable[pd.DataFrame]]  # reads the file from its start, each call


def ingest_stream(
    store: Store,
    source: str,
    frames: Frames,
    path: Path,
    *,
    policy: Policy | None = None,
    text: bool = False,
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Validate and write a file batch by batch; see ``ingest_frame`` for the result.

    ``progress`` is called after each batch is validated, with the rows received so far (the
    reject policy's second reading, which only moves rows to quarantine, is not counted).
    """
    contract = store.repository.contract(source)
    policy = policy or source_spec(contract).default_policy
    settings = store.settings
    origin = str(path)
    limit = datetime.now(UTC) + settings.future_horizon
    seen = SeenKeys(settings.ingest_memory_limit)
    version_file = VersionFile(settings.offline_dir, contract)
    quarantine = QuarantineFile(settings.quarantine_dir / source)
    tally = Tally()
    batch_problems: list[dict[str, Any]] = []
    touched = _Touched(store, source)
    received = quarantined = 0
    try:
        for frame in frames():
            typed, failures = validate_batch(
                contract, frame, origin, text=text, limit=limit, seen=seen
            )
            invalid = np.zeros(len(typed), dtype=bool)
            invalid[list(failures.reasons)] = True
            local = {row: items for row, items in failures.reasons.items()}
            tally.add(received, local)
            for item in failures.batch:
                if item not in batch_problems:
                    batch_problems.append(item)
            bad = np.flatnonzero(invalid)
            shifted = {received + r: local[r] for r in bad.tolist()}
            quarantine.append(quarantine_rows(frame, bad, received, shifted))
            version_file.append(typed, ~invalid)
            touched.add(typed[~invalid])
            received += len(typed)
            quarantined += len(bad)
            # A batch with failures leaves Pandera's exceptions in reference cycles (traceback ->
            # frame -> the batch's frames); the collector's full pass seldom runs among the
            # imports' millions of long-lived objects, so each batch's frames would pile up
            # until the end. One full pass per batch (~0.15 s against seconds of work) frees them.
            del frame, typed, failures
            gc.collect()
            if progress is not None:
                progress(received)
        if policy == "reject" and quarantined:
            version_file.abandon()
            quarantined = _reject_the_rest(frames, tally, quarantine)
        attempt = stream_attempt(source, path)
        quarantine_path = quarantine.finish(attempt)
        version: DatasetVersion | None = None
        new = False
        if quarantined < received:
            version, new = _seal(version_file, contract, quarantined, received)
        else:
            version_file.abandon()
    except BaseException:
        version_file.abandon()
        quarantine.abandon()
        raise
    finally:
        seen.close()
    result = IngestResult(
        source=source,
        received=received,
        written=received - quarantined,
        quarantined=quarantined,
        dataset_version=version.version if version else None,
        quarantine_path=str(quarantine_path) if quarantine_path else None,
        report_path=str(
            reports_dir(settings.offline_dir, source)
            / f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{attempt}.json"
        ),
        accepted=version is not None,
        policy=policy,
        new_version=new,
        failed_checks=dict(tally.checks),
        batch_problems=batch_problems,
    )
    online = touched.write(version.version) if version is not None else []
    result.online_entities = sum(r.entities for r in online)
    _write_report(Path(result.report_path), tally.report(result, origin))
    result.lineage_run = emit_ingest(settings, result, contract)
    emit_materialize(settings, online)
    return result


def _reject_the_rest(frames: Frames, tally: Tally, quarantine: QuarantineFile) -> int:
    """The reject policy: read the file again and quarantine its good rows too."""
    bad = tally.bad_rows()
    rejected = {"check": "batch_rejected", "column": None, "value": None}
    offset = 0
    for frame in frames():
        rows = np.arange(offset, offset + len(frame))
        good = rows[~np.isin(rows, bad)] - offset
        reasons = {offset + r: [rejected] for r in good.tolist()}
        for row in reasons:
            tally.count(row, rejected)
        quarantine.append(quarantine_rows(frame, good, offset, reasons))
        offset += len(frame)
    return offset


def _seal(
    version_file: VersionFile, contract: Any, quarantined: int, received: int
) -> tuple[DatasetVersion, bool]:
    import json

    from services.offline.versions import META_KEY, read_version_meta

    def meta(full_hash: str, final: Path) -> dict[str, str]:
        data = DatasetVersion(
            source=source_spec(contract).name,
            version=f"v{full_hash[:16]}",
            created=datetime.now(UTC).isoformat(),
            rows=version_file.rows,
            content_hash=full_hash,
            quarantined=quarantined,
            received=received,
            schema=schema_fingerprint(contract),
            path=str(final),
        )
        return {META_KEY.decode(): json.dumps(asdict(data))}

    _, final, new = version_file.finish(meta)
    return read_version_meta(final), new


class _Touched:
    """The entities each view reading the source must refresh online, and their newest time."""

    def __init__(self, store: Store, source: str) -> None:
        from services.resolution import plan_view

        self.store = store
        self.reads = [
            plan_view(store, fv.name)
            for fv in store.feature_views.values()
            if fv.batch_source is not None and fv.batch_source.name == source
        ]
        self.keys: list[set[tuple[Any, ...]]] = [set() for _ in self.reads]
        self.newest: list[datetime | None] = [None for _ in self.reads]

    def add(self, valid: pd.DataFrame) -> None:
        for i, read in enumerate(self.reads):
            names = [k.name for k in read.keys]
            self.keys[i].update(valid[names].drop_duplicates().itertuples(index=False, name=None))
            self.newest[i] = later(
                self.newest[i], newest_of(valid, [read.event_ts, read.created_ts])
            )

    def write(self, version: str) -> list[Any]:
        from services.online.materialize import mark_materialized, write_entities
        from services.online.writer import OnlineWriter

        if not self.reads:
            return []
        writer = OnlineWriter(self.store)
        at = datetime.now(UTC)
        results = []
        try:
            settings = self.store.settings
            step = settings.ingest_batch_rows
            for read, keys, newest in zip(self.reads, self.keys, self.newest, strict=True):
                ordered = sorted(keys)
                res = None
                # A batch of entities at a time, so the online write is bounded like the rest.
                for start in range(0, len(ordered), step):
                    part = write_entities(
                        self.store,
                        writer,
                        read,
                        keys=ordered[start : start + step],
                        at=at,
                        memory_limit=settings.ingest_memory_limit,
                    )
                    if res is None:
                        res = part
                    else:
                        res.rows += part.rows
                        res.entities += part.entities
                if res is None:
                    continue
                res.materialized = mark_materialized(self.store, read.view, version, newest, at)
                results.append(res)
        finally:
            writer.close()
        return results
