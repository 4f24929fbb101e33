"""Read a raw batch (parquet or CSV) into a DataFrame, or fail with what and where.

Every failure here is ``UnreadableInputError`` (exit 2): missing, empty,
truncated or corrupt files, unparseable CSV, unsupported extensions. CSV is
read as text so that every cell is converted by the contract, not guessed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.errors import UnreadableInputError

CSV_SUFFIXES = (".csv", ".txt")


def read_batch(path: Path) -> pd.DataFrame:
    """Read a parquet or CSV file; raise ``UnreadableInputError`` if it cannot be used."""
    if not path.exists():
        raise UnreadableInputError(path, "file does not exist")
    if not path.is_file():
        raise UnreadableInputError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise UnreadableInputError(path, "file is empty (0 bytes)")
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


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise UnreadableInputError(path, f"not a readable parquet file ({exc})") from exc
    try:
        return table.to_pandas(
            types_mapper={pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get
        )
    except (pa.ArrowInvalid, ValueError) as exc:
        raise UnreadableInputError(path, f"cannot convert parquet data ({exc})") from exc


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            sample = handle.read(4096)
        if not sample.strip():
            raise UnreadableInputError(path, "no header line")
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8",
            quoting=csv.QUOTE_MINIMAL,
            on_bad_lines="error",
            engine="c",
        )
    except UnicodeDecodeError as exc:
        raise UnreadableInputError(
            path, f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
        raise UnreadableInputError(path, f"unparseable CSV ({str(exc).strip()})") from exc
