"""Immutable dataset versions of each source: the on-disk layout of the offline store.

``<data>/offline/<source>/<version>.parquet`` holds the accepted rows of one
ingest, written under a hidden temporary name, fsync'd and atomically renamed,
so a crash leaves no visible partial version. The version id is a hash of the
content, so re-ingesting identical rows is a no-op. Version facts (created,
rows, hash, quarantined) live in the parquet footer: the rename is the only
commit point, so there is no second file to get out of step. Reports live in
``_reports/`` (ignored by Feast's and Arrow's readers, like every ``_``/``.`` name).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.contracts import SourceContract
from services.contracts.schema import (
    arrow_schema,
    column_specs,
    schema_fingerprint,
    source_spec,
)
from services.offline.temporaries import remove_stale_temporaries, temporary_for

# Re-exported: the ingest path and the engines import a version's facts from here.
from services.offline.versions import META_KEY
from services.offline.versions import DatasetVersion as DatasetVersion
from services.offline.versions import list_versions as list_versions
from services.offline.versions import read_version_meta as read_version_meta
from services.offline.versions import source_dir as source_dir

_META_KEY = META_KEY  # the name the streamed writer reads it by
ROW_GROUP_ROWS = 256_000


def content_hash(
    frame: pd.DataFrame, contract: type[SourceContract], keep: np.ndarray | None = None
) -> str:
    """SHA-256 over the contract fingerprint and a row-wise hash of the frame.

    With ``keep`` (a boolean row mask) the hash is that of ``frame[keep]``: row hashes
    do not depend on the other rows, so the kept ones are selected after hashing.
    """
    digest = hashlib.sha256(schema_fingerprint(contract).encode())
    digest.update(",".join(frame.columns).encode())
    rows = pd.util.hash_pandas_object(hashable_frame(frame), index=False).to_numpy()
    digest.update((rows if keep is None else rows[keep]).tobytes())
    return digest.hexdigest()


def cell_bytes(value: object) -> bytes:
    """Every byte of one cell, typed and delimited (never a shortened text form).

    NumPy prints a long array with ``...``: two embeddings differing in the middle would hash
    alike if their text were hashed.
    """
    data: bytes
    if isinstance(value, np.ndarray):
        data = value.dtype.str.encode() + b":" + bytes(value.tobytes())
    elif isinstance(value, bytes):
        data = b"b:" + value
    elif isinstance(value, list | tuple | dict):
        data = b"j:" + json.dumps(value, sort_keys=True, default=_json_default).encode()
    else:
        data = f"{type(value).__name__}:{value!r}".encode()
    return len(data).to_bytes(8, "little") + data


def _json_default(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.hex()
    return repr(value)


def hashable_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with array, map, struct and bytes cells as text, which pandas can hash.

    Columns of plain scalars are passed through untouched, so their hashes (and the version
    ids built from them) are what they always were.
    """
    nested = [
        name
        for name in frame.columns
        if frame[name].dtype == object
        and any(isinstance(v, list | dict | tuple | bytes | np.ndarray) for v in frame[name])
    ]
    if not nested:
        return frame
    out = frame.copy(deep=False)
    for name in nested:
        out[name] = frame[name].map(lambda v: None if v is None else cell_bytes(v).hex())
    return out


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_version(
    offline_dir: Path,
    contract: type[SourceContract],
    frame: pd.DataFrame,
    *,
    quarantined: int,
    received: int,
    keep: np.ndarray | None = None,
) -> tuple[DatasetVersion, bool]:
    """Write ``frame[keep]`` (already valid) as a new version; return it and whether it is new.

    Identical content maps to the same version id, so a re-ingest returns the
    existing version and writes nothing. ``keep`` is a boolean row mask (every row
    when ``None``); rows are selected one row group at a time, never as a whole copy.
    """
    spec = source_spec(contract)
    folder = source_dir(offline_dir, spec.name)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder)
    full_hash = content_hash(frame, contract, keep)
    version = f"v{full_hash[:16]}"
    final = folder / f"{version}.parquet"
    if final.exists():
        return read_version_meta(final), False
    meta = DatasetVersion(
        source=spec.name,
        version=version,
        created=datetime.now(UTC).isoformat(),
        rows=len(frame) if keep is None else int(keep.sum()),
        content_hash=full_hash,
        quarantined=quarantined,
        received=received,
        schema=schema_fingerprint(contract),
        path=str(final),
    )
    schema = arrow_schema(contract).with_metadata({_META_KEY: json.dumps(asdict(meta)).encode()})
    tmp = temporary_for(final)
    try:
        with tmp.open("wb") as handle:
            _write_row_groups(handle, frame, keep, schema, _dictionary_columns(contract))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(folder)
    return meta, True


def _dictionary_columns(contract: type[SourceContract]) -> list[str]:
    """The columns worth dictionary-encoding: entity keys and text, which repeat.

    Measures and timestamps are near-unique: building a dictionary for them only to
    abandon it took most of the write time and made the file larger.
    """
    return [c.name for c in column_specs(contract) if c.role == "entity" or c.type.name == "String"]


def _write_row_groups(
    sink: BinaryIO,
    frame: pd.DataFrame,
    keep: np.ndarray | None,
    schema: pa.Schema,
    dictionary: list[str],
) -> None:
    """Convert and write one row group at a time, so Arrow never holds the whole frame."""
    writer: pq.ParquetWriter | None = None
    try:
        for start in range(0, len(frame), ROW_GROUP_ROWS):
            chunk = frame.iloc[start : start + ROW_GROUP_ROWS]
            if keep is not None:
                chunk = chunk[keep[start : start + ROW_GROUP_ROWS]]
            if chunk.empty:
                continue
            table = pa.Table.from_pandas(chunk, schema=schema, preserve_index=False, safe=True)
            if writer is None:
                writer = pq.ParquetWriter(
                    sink, table.schema, compression="zstd", use_dictionary=dictionary or False
                )
            writer.write_table(table.replace_schema_metadata(writer.schema.metadata))
    finally:
        if writer is not None:
            writer.close()


def reports_dir(offline_dir: Path, source: str) -> Path:
    return source_dir(offline_dir, source) / "_reports"
