"""Read a raw batch (parquet or CSV) into a DataFrame, or fail with what and where.

Every failure here is ``UnreadableInputError`` (exit 2): missing, empty,
truncated or corrupt files, unparseable CSV, unsupported extensions. CSV is
read as text so that every cell is converted by the contract, not guessed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.errors import UnreadableInputError

CSV_SUFFIXES = (".csv", ".txt")


# Nullable pandas types, so an integer or boolean column with nulls keeps its kind.
_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
# Every cell as text: the contract, not the parser, decides what a CSV cell means.
_CSV_OPTIONS: dict[str, Any] = {
    "dtype": str,
    "keep_default_na": False,
    "na_values": [""],
    "encoding": "utf-8",
    "quoting": csv.QUOTE_MINIMAL,
    "on_bad_lines": "error",
    "engine": "c",
}


def read_batch(path: Path) -> pd.DataFrame:
    """Read a parquet or CSV file; raise ``UnreadableInputError`` if it cannot be used."""
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        frame = _read_parquet(path)
    elif suffix in CSV_SUFFIXES:
        frame = _read_csv(path)
    else:
        raise UnreadableInputError(path, f"unsupported file type {suffix!r} (parquet or csv)")
    if frame.empty:
        raise UnreadableInputError(path, "no rows")
    return frame


def read_batches(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """The file's rows, ``rows`` at a time, parsed exactly as :func:`read_batch` parses them.

    Parquet streams by record batch, CSV by chunk of lines; neither is read whole. An error
    in a later part is raised when that part is reached (``UnreadableInputError``).
    """
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        parts = _parquet_batches(path, rows)
    elif suffix in CSV_SUFFIXES:
        parts = _csv_chunks(path, rows)
    else:
        raise UnreadableInputError(path, f"unsupported file type {suffix!r} (parquet or csv)")
    empty = True
    for part in parts:
        if part.empty:
            continue
        empty = False
        yield part.reset_index(drop=True)
    if empty:
        raise UnreadableInputError(path, "no rows")


def count_rows(path: Path) -> int | None:
    """The file's row count when its metadata holds one (parquet), else None.

    A CSV's rows are known only by reading it all, which the streamed ingest avoids.
    """
    if path.suffix.lower() not in (".parquet", ".pq"):
        return None
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError):
        return None  # reading the rows says what is wrong, with the one error for it


def _check_file(path: Path) -> None:
    if not path.exists():
        raise UnreadableInputError(path, "file does not exist")
    if not path.is_file():
        raise UnreadableInputError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise UnreadableInputError(path, "file is empty (0 bytes)")


def _parquet_batches(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    try:
        # pre_buffer=False: with it, Arrow caches the coalesced column ranges it read ahead
        # until the file is closed, so memory grew with the file (~100 MB per 500k x 25 batch).
        source = pq.ParquetFile(path, pre_buffer=False)
        for batch in source.iter_batches(batch_size=rows):
            yield batch.to_pandas(types_mapper=_TYPES.get)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise UnreadableInputError(path, f"not a readable parquet file ({exc})") from exc
    except ValueError as exc:
        raise UnreadableInputError(path, f"cannot convert parquet data ({exc})") from exc


def _csv_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    try:
        _check_header(path)
        with pd.read_csv(path, chunksize=rows, **_CSV_OPTIONS) as chunks:
            yield from chunks
    except UnicodeDecodeError as exc:
        raise UnreadableInputError(
            path, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise UnreadableInputError(path, f"unparseable CSV ({str(exc).strip()})") from exc


def _check_header(path: Path) -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        sample = handle.read(4096)
    if not sample.strip():
        raise UnreadableInputError(path, "no header line")


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise UnreadableInputError(path, f"not a readable parquet file ({exc})") from exc
    try:
        return table.to_pandas(types_mapper=_TYPES.get)
    except (pa.ArrowInvalid, ValueError) as exc:
        raise UnreadableInputError(path, f"cannot convert parquet data ({exc})") from exc


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        _check_header(path)
        return pd.read_csv(path, **_CSV_OPTIONS)
    except UnicodeDecodeError as exc:
        raise UnreadableInputError(
            path, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise UnreadableInputError(path, f"unparseable CSV ({str(exc).strip()})") from exc
