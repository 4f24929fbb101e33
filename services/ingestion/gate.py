"""The ingestion gate: every batch write goes through ``ingest_frame``.

read -> conform + validate (lazy, every failure at once) -> valid rows become a new
immutable dataset version, invalid rows go to quarantine with their reasons
(``received == written + quarantined``, always) -> the online store is updated
for the entities whose latest value may have changed (late rows included) ->
a lineage run records the version, its schema, counts and assertions.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
import pandas as pd

from services.contracts.base import Policy, SourceContract
from services.contracts.schema import source_spec
from services.errors import BatchRejectedError, InputError
from services.ingestion.conform import Failures, check_columns, check_future, conform
from services.ingestion.reader import CSV_SUFFIXES, count_rows, read_batches
from services.ingestion.stream import Tally, quarantine_rows
from services.ingestion.validate import validate_failed_rows, validate_rows
from services.lineage_events import emit_ingest, emit_materialize
from services.offline.datasets import reports_dir, write_version
from services.offline.hashing import cell_bytes, paired_row_hashes
from services.offline.temporaries import remove_stale_temporaries, temporary_for
from services.store import Store

if TYPE_CHECKING:
    from services.online.materialize import MaterializeResult

# Called after each batch: (rows validated so far, the file's row count when known).
IngestProgress = Callable[[int, int | None], None]


@dataclass
class IngestResult:
    """The outcome of one ingest attempt (also the ``--json`` output)."""

    source: str
    received: int
    written: int
    quarantined: int
    dataset_version: str | None
    quarantine_path: str | None
    report_path: str
    accepted: bool
    policy: str
    new_version: bool = False
    online_entities: int = 0
    failed_checks: dict[str, int] = field(default_factory=dict)
    batch_problems: list[dict[str, Any]] = field(default_factory=list)
    lineage_run: str | None = None

    @property
    def invalid(self) -> int:
        """The rows that failed the contract; fewer than ``quarantined`` under the reject policy.

        Rejecting a batch quarantines its good rows too (``received == written + quarantined``
        holds), each with the one reason ``batch_rejected``: those are not counted.
        """
        return self.quarantined - self.failed_checks.get("batch_rejected", 0)

    def summary(self) -> dict[str, Any]:
        keys = (
            "source",
            "received",
            "written",
            "quarantined",
            "dataset_version",
            "quarantine_path",
            "report_path",
        )
        return {k: getattr(self, k) for k in keys}


def _attempt_id(source: str, frame: pd.DataFrame, rows: np.ndarray | None) -> str:
    """A hash of the raw input: its columns and a hash of each row (nested cells as bytes).

    ``rows`` are the frame's row hashes (``paired_row_hashes``); ``None``: a cell pandas cannot
    hash even as text (a set, an arbitrary object), so every cell is hashed by its bytes.
    """
    digest = hashlib.sha256(source.encode())
    digest.update(",".join(map(str, frame.columns)).encode())
    if rows is None:
        for name in frame.columns:
            for cell in frame[name]:
                digest.update(cell_bytes(cell))
        return digest.hexdigest()[:16]
    digest.update(rows.tobytes())
    return digest.hexdigest()[:16]


def _write_quarantine(
    folder: Path,
    attempt: str,
    frame: pd.DataFrame,
    rows: np.ndarray,
    reasons: dict[int, list[dict[str, Any]]],
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder)
    path = folder / f"q{attempt}.parquet"
    bad = quarantine_rows(frame, rows, 0, reasons)
    tmp = temporary_for(path)
    bad.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def _write_report(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    tmp = temporary_for(path)
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    os.replace(tmp, path)


def _report(
    result: IngestResult, reasons: dict[int, list[dict[str, Any]]], origin: str
) -> dict[str, Any]:
    tally = Tally()
    tally.add(0, reasons)
    return tally.report(result, origin)


def validate_frame(
    contract: type[SourceContract],
    frame: pd.DataFrame,
    origin: str,
    *,
    text: bool = False,
    horizon: timedelta | None = None,
) -> tuple[pd.DataFrame, Failures]:
    """Conform and validate a raw frame (``text``: CSV cells); return it typed, and failures.

    With ``horizon``, a row whose event or created time lies more than ``horizon`` after now
    fails ``future_timestamp`` (a clock or unit error upstream, not a fact about the future).
    """
    failures = Failures()
    failures.batch.extend(check_columns(frame, contract, origin))
    typed = conform(frame, contract, failures, text=text)
    if horizon is not None:
        check_future(typed, contract, datetime.now(UTC) + horizon, failures)
    unconverted = np.zeros(len(typed), dtype=bool)
    unconverted[list(failures.reasons)] = True
    validate_failed_rows(typed, contract, failures)
    validate_rows(typed, contract, np.flatnonzero(~unconverted), failures)
    if failures.batch:
        for row in range(len(typed)):
            failures.reasons.setdefault(row, []).extend(failures.batch)
    return typed, failures


POLICIES: tuple[str, ...] = get_args(Policy)


def checked_policy(policy: str | None) -> Policy | None:
    """``policy`` if it is one (None: the contract's own); a misspelt one is an ``InputError``.

    Anything but ``"reject"`` used to behave as quarantine: ``policy="REJECT"`` wrote the
    good rows of a batch its caller meant to refuse whole.
    """
    if policy is None or policy in POLICIES:
        return policy  # type: ignore[return-value]
    raise InputError(f"policy {policy!r}: use one of {', '.join(map(repr, POLICIES))}")


def ingest_frame(
    store: Store,
    source: str,
    frame: pd.DataFrame,
    *,
    policy: Policy | None = None,
    origin: str = "<dataframe>",
    update_online: bool = True,
    text: bool = False,
) -> IngestResult:
    """Validate and write one batch of a source. Raises ``InputError`` for unusable input.

    ``text`` says the cells are CSV text, which the contract parses; otherwise a string is
    never taken for a number or a boolean (a push, a parquet file, a DataFrame).

    Returns the result whether accepted or rejected; ``result.accepted`` is False
    when nothing was written (reject policy with invalid rows, or no valid row).
    """
    contract = store.repository.contract(source)
    policy = checked_policy(policy) or source_spec(contract).default_policy
    settings = store.settings
    typed, failures = validate_frame(
        contract, frame, origin, text=text, horizon=settings.future_horizon
    )
    received = len(typed)
    invalid = np.zeros(received, dtype=bool)
    invalid[list(failures.reasons)] = True
    reject_all = policy == "reject" and invalid.any()
    if reject_all:
        for row in np.flatnonzero(~invalid).tolist():
            failures.reasons[row] = [{"check": "batch_rejected", "column": None, "value": None}]
        invalid[:] = True
    quarantined = int(invalid.sum())
    version, new = (None, False)
    # The raw input's row hashes (the attempt id) and the typed rows' (the version id) share
    # every column conform passed through; they are computed while the version is written.
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashing = pool.submit(paired_row_hashes, frame, typed)
        if quarantined < received:  # the valid rows are written straight from ``typed``
            version, new = write_version(
                settings.offline_dir,
                contract,
                typed,
                quarantined=quarantined,
                received=received,
                keep=~invalid if quarantined else None,
                row_hashes=lambda: hashing.result()[1],
            )
        attempt = _attempt_id(source, frame, hashing.result()[0])
    quarantine_path = None
    if invalid.any():
        quarantine_path = str(
            _write_quarantine(
                settings.quarantine_dir / source,
                attempt,
                frame,
                np.flatnonzero(invalid),
                failures.reasons,
            )
        )
    result = IngestResult(
        source=source,
        received=received,
        written=received - quarantined,
        quarantined=quarantined,
        dataset_version=version.version if version else None,
        quarantine_path=quarantine_path,
        report_path=str(
            reports_dir(settings.offline_dir, source)
            / f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{attempt}.json"
        ),
        accepted=version is not None,
        policy=policy,
        new_version=new,
        failed_checks=dict(Counter(str(i["check"]) for r in failures.reasons.values() for i in r)),
        batch_problems=failures.batch,
    )
    online: list[MaterializeResult] = []
    if version is not None and update_online:
        online = _update_online(store, source, typed, ~invalid, version.version)
        result.online_entities = sum(r.entities for r in online)
    _write_report(Path(result.report_path), _report(result, failures.reasons, origin))
    result.lineage_run = emit_ingest(store.settings, result, contract)
    emit_materialize(store.settings, online)  # the online writes, as materializations
    return result


def _update_online(
    store: Store, source: str, typed: pd.DataFrame, valid: np.ndarray, version: str
) -> list[MaterializeResult]:
    """Write the latest row of each touched entity, for every view reading this source.

    ``valid`` is the boolean mask of the rows of ``typed`` that were written.
    """
    from services.online.materialize import mark_materialized, write_entities
    from services.online.writer import OnlineWriter
    from services.resolution import plan_view

    views = [
        fv.name
        for fv in store.feature_views.values()
        if fv.batch_source is not None and fv.batch_source.name == source
    ]
    if not views:
        return []
    writer = OnlineWriter(store)
    results = []
    at = datetime.now(UTC)
    try:
        for view in views:
            read = plan_view(store, view)
            names = [k.name for k in read.keys]
            touched = typed.loc[valid, names].drop_duplicates()
            keys = list(touched.itertuples(index=False, name=None))
            res = write_entities(store, writer, read, keys=keys, at=at)
            newest = _newest_time(typed.loc[valid], read.event_ts, read.created_ts)
            res.materialized = mark_materialized(store, view, version, newest, at)
            results.append(res)
    finally:
        writer.close()
    return results


def _newest_time(rows: pd.DataFrame, event: str, created: str | None) -> datetime | None:
    """The latest event or created time of ``rows``: all of them are visible from then on."""
    columns = [c for c in (event, created) if c and c in rows]
    stamps = [rows[c].max() for c in columns if rows[c].notna().any()]
    return max(stamps).to_pydatetime() if stamps else None


def ingest_file(
    store: Store,
    source: str,
    path: Path,
    *,
    policy: Policy | None = None,
    progress: IngestProgress | None = None,
) -> IngestResult:
    """Read a parquet/CSV file and ingest it (see ``ingest_frame``).

    A file of more than ``SKEWLESS_INGEST_BATCH_ROWS`` rows streams through the same gate batch
    by batch (``services.ingestion.stream_gate``), with the same result; memory then stays
    bounded by that setting, not by the file.

    Args:
        store: The project's store.
        source: The source (contract) the file belongs to.
        path: A parquet or CSV file.
        policy: ``reject`` or ``quarantine``; the contract's own when None.
        progress: Called after each batch is validated with (rows so far, the file's row
            count when its metadata says, as parquet's does; None for CSV).

    """
    store.repository.contract(source)  # unknown source is exit 2 before touching the file
    checked_policy(policy)
    rows = store.settings.ingest_batch_rows
    text = path.suffix.lower() in CSV_SUFFIXES
    parts = read_batches(path, rows)
    first = next(parts)
    second = next(parts, None)
    total = count_rows(path) if progress is not None else None
    if second is None:
        result = ingest_frame(store, source, first, policy=policy, origin=str(path), text=text)
        if progress is not None:
            progress(len(first), total)
        return result
    del first, second, parts  # the stream reads the file again from its start
    from services.ingestion.stream_gate import ingest_stream

    return ingest_stream(
        store,
        source,
        lambda: read_batches(path, rows),
        path,
        policy=policy,
        text=text,
        progress=None if progress is None else lambda done: progress(done, total),
    )


__all__ = ["BatchRejectedError", "IngestResult", "ingest_file", "ingest_frame", "validate_frame"]
