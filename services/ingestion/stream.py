"""Ingest a file larger than memory: the same gate, ``SKEWLESS_INGEST_BATCH_ROWS`` at a time.

Each batch is conformed and validated exactly as a whole file is (``validate_frame``'s steps), so
a row gets the same reasons. What one batch cannot see is carried across batches:

- **Duplicate keys.** A row whose key (entity keys, event and created time) an earlier row of
  the file already had fails ``duplicate_key``, as Pandera's ``exclude_first`` would on the whole
  file. Earlier keys are kept as 128-bit hashes in an on-disk DuckDB table (memory bounded by its
  ``memory_limit``; a false duplicate needs a 2^-128 collision); the reason itself is computed by
  Pandera on the row, so it reads exactly as in one piece.
- **The version.** Valid rows go to a hidden temporary file as they are validated; the content
  hash is updated batch by batch with the same row hashes as in one piece, so the version id is
  the one the whole file would get. The file is renamed to its version only at the end: a
  failure anywhere leaves no version. With the ``reject`` policy and any bad row, the file is
  read a second time to quarantine its good rows as ``batch_rejected``, and nothing is written.
- **Quarantine, report, online.** Bad rows are appended to the quarantine file as they are
  found; the entities a view must refresh online are gathered as keys.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.contracts import SourceContract
from services.contracts.schema import arrow_schema, key_columns, schema_fingerprint, source_spec
from services.ingestion.conform import Failures, check_columns, check_future, conform
from services.ingestion.validate import validate_failed_rows, validate_rows
from services.offline.datasets import COMPRESSION, source_dir
from services.offline.hashing import hashable_frame
from services.offline.temporaries import remove_stale_temporaries, temporary_for
from services.offline.writeback import Writeback

_SECOND_HASH = "skewless-keys-v2"  # pandas' hash key for the second 64 bits (16 bytes)


class SeenKeys:
    """Row keys of the batches so far, as (a, b) 64-bit hash pairs in an on-disk DuckDB table."""

    def __init__(self, memory_limit: str = "256MB") -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="skewless-keys-")
        self._con = duckdb.connect(str(Path(self._dir.name) / "keys.duckdb"))
        self._con.execute(f"SET memory_limit = '{memory_limit}'")
        self._con.execute(f"SET temp_directory = '{self._dir.name}'")
        self._con.execute("SET threads = 1")
        self._con.execute("CREATE TABLE seen (a UBIGINT, b UBIGINT)")

    def seen_before(self, keys: pd.DataFrame) -> np.ndarray:
        """Positions of ``keys`` rows some earlier batch had; then remember these rows too."""
        if keys.empty:
            return np.zeros(0, dtype=np.int64)
        batch = pd.DataFrame(
            {
                "i": np.arange(len(keys), dtype=np.int64),
                "a": pd.util.hash_pandas_object(keys, index=False).to_numpy(),
                "b": pd.util.hash_pandas_object(
                    keys, index=False, hash_key=_SECOND_HASH
                ).to_numpy(),
            }
        )
        self._con.register("batch", batch)
        try:
            found = self._con.execute(
                "SELECT DISTINCT batch.i FROM batch JOIN seen USING (a, b) ORDER BY 1"
            ).fetchnumpy()["i"]
            self._con.execute("INSERT INTO seen SELECT a, b FROM batch")
        finally:
            self._con.unregister("batch")
        return np.asarray(found, dtype=np.int64)

    def close(self) -> None:
        self._con.close()
        self._dir.cleanup()


class VersionFile:
    """Valid rows appended to a hidden temporary; the content hash kept up to date."""

    def __init__(self, offline_dir: Path, contract: type[SourceContract]) -> None:
        self.contract = contract
        self.folder = source_dir(offline_dir, source_spec(contract).name)
        self.folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.folder)
        self.tmp = temporary_for(self.folder / f"stream-{os.urandom(8).hex()}.parquet")
        self.digest = hashlib.sha256(schema_fingerprint(contract).encode())
        self.schema = arrow_schema(contract)
        self.rows = 0
        self._columns_hashed = False
        self._file: _OpenFile | None = None

    def append(self, typed: pd.DataFrame, keep: np.ndarray) -> None:
        if not self._columns_hashed:  # as content_hash: the typed frame's column names once
            self.digest.update(",".join(typed.columns).encode())
            self._columns_hashed = True
        hashes = pd.util.hash_pandas_object(hashable_frame(typed), index=False).to_numpy()
        self.digest.update(hashes[keep].tobytes())
        kept = typed[keep]
        if kept.empty:
            return
        table = pa.Table.from_pandas(kept, schema=self.schema, preserve_index=False, safe=True)
        file = self._file or self._open(table.schema)
        file.writer.write_table(table)
        file.writeback.start()
        self.rows += len(kept)

    def finish(self, meta: Callable[[str, Path], dict[str, str]]) -> tuple[str, Path, bool]:
        """Seal the file under its version id: (version, path, whether it is new)."""
        full_hash = self.digest.hexdigest()
        version = f"v{full_hash[:16]}"
        final = self.folder / f"{version}.parquet"
        file = self._file
        if final.exists() or file is None:
            self.abandon()
            return version, final, False
        file.writer.add_key_value_metadata(meta(full_hash, final))
        file.writer.close()
        file.writeback.sync()
        self._close()
        os.replace(self.tmp, final)
        return version, final, True

    def abandon(self) -> None:
        if self._file is not None:
            self._file.writer.close()
        self._close()
        self.tmp.unlink(missing_ok=True)

    def _open(self, schema: pa.Schema) -> _OpenFile:
        handle = self.tmp.open("wb")
        writer = pq.ParquetWriter(handle, schema, compression=COMPRESSION)
        self._file = _OpenFile(handle, Writeback(handle), writer)
        return self._file

    def _close(self) -> None:
        """Release the temporary's handle and its writeback thread (the writer is closed)."""
        if self._file is not None:
            self._file.writeback.close()
            self._file.handle.close()
            self._file = None


@dataclass(frozen=True)
class _OpenFile:
    """The temporary being written: its handle, its background writeback, its parquet writer."""

    handle: BinaryIO
    writeback: Writeback
    writer: pq.ParquetWriter


class QuarantineFile:
    """Bad rows, as in one piece (raw values, ``_row``, ``_reasons``, ``_reason``), appended."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder)
        self.folder = folder
        self.tmp = temporary_for(folder / f"stream-{os.urandom(8).hex()}.parquet")
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def append(self, bad: pd.DataFrame) -> None:
        if bad.empty:
            return
        if self._schema is None:
            fields = [
                pa.field(name, pa.string())
                if bad[name].dtype == object
                else pa.Schema.from_pandas(bad[[name]], preserve_index=False).field(name)
                for name in bad.columns
            ]
            self._schema = pa.schema(fields)
            self._writer = pq.ParquetWriter(self.tmp, self._schema)
        table = pa.Table.from_pandas(bad, schema=self._schema, preserve_index=False, safe=False)
        if self._writer is not None:
            self._writer.write_table(table)

    def finish(self, attempt: str) -> Path | None:
        if self._writer is None:
            return None
        self._writer.close()
        self._writer = None
        final = self.folder / f"q{attempt}.parquet"
        os.replace(self.tmp, final)
        return final

    def abandon(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self.tmp.unlink(missing_ok=True)


class Tally:
    """What the report says about bad rows: counts per check and column, a few samples each.

    Kept instead of every row's reasons, which for a file of bad rows would grow with it; the
    rows themselves, with their reasons, are in the quarantine file. The rows found bad are
    kept as positions (8 bytes each), for the reject policy's second pass.
    """

    def __init__(self) -> None:
        self.checks: Counter[str] = Counter()
        self.keyed: Counter[str] = Counter()
        self.samples: dict[str, list[dict[str, Any]]] = {}
        self._bad: list[np.ndarray] = []

    def add(self, offset: int, reasons: dict[int, list[dict[str, Any]]]) -> None:
        self._bad.append(np.array(sorted(reasons), dtype=np.int64) + offset)
        for row, items in reasons.items():
            for item in items:
                self.count(offset + row, item)

    def count(self, row: int, item: dict[str, Any]) -> None:
        self.checks[str(item["check"])] += 1
        key = f"{item['check']}:{item['column']}"
        self.keyed[key] += 1
        if len(self.samples.setdefault(key, [])) < 5:
            self.samples[key].append({"row": row, "value": item["value"]})

    def bad_rows(self) -> np.ndarray:
        return np.concatenate(self._bad) if self._bad else np.zeros(0, dtype=np.int64)

    def report(self, result: Any, origin: str) -> dict[str, Any]:
        """The report ``gate._report`` writes, from the tally."""
        return {
            **asdict(result),
            "origin": origin,
            "at": datetime.now(UTC).isoformat(),
            "checks": [
                {
                    "check": k.split(":", 1)[0],
                    "column": k.split(":", 1)[1],
                    "failures": n,
                    "samples": self.samples.get(k, []),
                }
                for k, n in sorted(self.keyed.items())
            ],
        }


def validate_batch(
    contract: type[SourceContract],
    frame: pd.DataFrame,
    origin: str,
    *,
    text: bool,
    limit: datetime | None,
    seen: SeenKeys,
) -> tuple[pd.DataFrame, Failures]:
    """``validate_frame`` for one batch of a file, with duplicates against earlier batches."""
    failures = Failures()
    failures.batch.extend(check_columns(frame, contract, origin))
    typed = conform(frame, contract, failures, text=text)
    if limit is not None:
        check_future(typed, contract, limit, failures)
    unconverted = np.zeros(len(typed), dtype=bool)
    unconverted[list(failures.reasons)] = True
    candidates = np.flatnonzero(~unconverted)
    validate_failed_rows(typed, contract, failures)
    validate_rows(typed, contract, candidates, failures)
    keys = key_columns(contract)
    if keys and len(candidates):
        earlier = candidates[seen.seen_before(typed.iloc[candidates][keys])]
        _add_duplicates(typed, contract, earlier, failures)
    if failures.batch:
        for row in range(len(typed)):
            failures.reasons.setdefault(row, []).extend(failures.batch)
    return typed, failures


def _add_duplicates(
    typed: pd.DataFrame, contract: type[SourceContract], rows: np.ndarray, failures: Failures
) -> None:
    """``duplicate_key`` for ``rows`` (their key was in an earlier batch), worded by Pandera.

    Each row is validated after a copy of itself, so Pandera reports it exactly as it reports
    a later copy of a key; rows it already flagged within the batch are left as they are.
    """
    fresh = [
        int(r)
        for r in rows
        if not any(x["check"] == "duplicate_key" for x in failures.reasons.get(int(r), []))
    ]
    if not fresh:
        return
    twice = pd.concat([typed.iloc[fresh], typed.iloc[fresh]], ignore_index=True)
    worded = Failures()
    validate_rows(twice, contract, np.arange(len(twice)), worded)
    for i, row in enumerate(fresh):
        for item in worded.reasons.get(len(fresh) + i, []):
            if item["check"] == "duplicate_key":
                failures.reasons.setdefault(row, []).append(item)
                break


def stream_attempt(source: str, path: Path) -> str:
    """The attempt id of a streamed file: its source, name, size and modification time."""
    stat = path.stat()
    text = f"{source}\0{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def newest_of(rows: pd.DataFrame, columns: Iterable[str | None]) -> datetime | None:
    stamps = [rows[c].max() for c in columns if c and c in rows and rows[c].notna().any()]
    return max(stamps).to_pydatetime() if stamps else None


def later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def now_utc() -> datetime:
    return datetime.now(UTC)


def quarantine_rows(
    frame: pd.DataFrame, local: np.ndarray, offset: int, reasons: dict[int, list[Any]]
) -> pd.DataFrame:
    """Quarantine rows (raw values, ``_row``, ``_reasons``, ``_reason``) of ``frame[local]``.

    ``reasons`` is keyed by file row (``local + offset``); the one-piece gate writes these too.
    """
    bad = frame.iloc[local].reset_index(drop=True)
    for name in bad.columns:
        if bad[name].dtype == object:
            bad[name] = bad[name].map(lambda v: None if v is None else str(v))
    rows = local.astype("int64") + offset
    bad.insert(0, "_row", rows)
    bad["_reasons"] = [json.dumps(reasons[int(r)]) for r in rows]
    bad["_reason"] = [
        "; ".join(
            f"{x['check']} on {x['column']}" + (f" ({x['value']})" if x["value"] else "")
            for x in reasons[int(r)]
        )
        for r in rows
    ]
    return bad


__all__ = [
    "QuarantineFile",
    "SeenKeys",
    "Tally",
    "VersionFile",
    "later",
    "newest_of",
    "now_utc",
    "quarantine_rows",
    "stream_attempt",
    "validate_batch",
]
