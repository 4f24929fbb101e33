"""Row hashes of frames: the content behind version ids, attempt ids and training-set ids.

pandas hashes each column, then combines the columns row by row. A column holding arrays,
maps, structs or bytes is hashed as the hex text of its cells' bytes (``cell_bytes``), which
pandas can hash; every other column is hashed as it is.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


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
    nested = [name for name in frame.columns if _has_nested_cells(frame[name])]
    if not nested:
        return frame
    out = frame.copy(deep=False)
    for name in nested:
        out[name] = frame[name].map(_as_text)
    return out


# What pandas' C scan calls an object column all of whose non-null cells are plain scalars.
_SCALAR_KINDS = frozenset(
    {"string", "empty", "integer", "floating", "mixed-integer-float", "decimal", "boolean"}
)


def _has_nested_cells(column: pd.Series) -> bool:
    """Whether an object column holds an array, map, struct or bytes cell.

    pandas' ``infer_dtype`` scans the column in C; only a column it cannot call plain
    (mixed, or holding bytes) is looked at cell by cell in Python.
    """
    if column.dtype != object:
        return False
    if pd.api.types.infer_dtype(column, skipna=True) in _SCALAR_KINDS:
        return False
    return any(isinstance(v, list | dict | tuple | bytes | np.ndarray) for v in column)


def _as_text(value: object) -> str | None:
    return None if value is None else cell_bytes(value).hex()


def paired_row_hashes(
    first: pd.DataFrame, second: pd.DataFrame
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The row hashes pandas gives two frames of the same rows, each column's data hashed once.

    Each is ``hash_pandas_object(hashable_frame(frame), index=False)``, bit for bit. An ingest
    hashes its raw input (the attempt id) and its conformed rows (the version id), and
    ``conform`` passes most columns through untouched: a column the two frames hold as the
    same data is hashed once for both. ``None`` for a frame with a cell pandas cannot hash.
    """
    a, b = _hashable_or_none(first), _hashable_or_none(second)
    if a is None or b is None or list(a.columns) != list(b.columns) or len(a) != len(b):
        return _row_hashes(a), _row_hashes(b)
    if not len(a.columns):
        return _row_hashes(a), _row_hashes(b)
    folds = (RowHashFold(len(a), len(a.columns)), RowHashFold(len(b), len(b.columns)))
    try:
        for name in a.columns:
            column_a = column_hash(a[name])
            folds[0].add(column_a)
            same = _same_data(a[name], b[name])
            folds[1].add(column_a if same else column_hash(b[name]))
    except TypeError:  # one of them holds a cell pandas cannot hash: hash them apart
        return _row_hashes(a), _row_hashes(b)
    return folds[0].result(), folds[1].result()


def _hashable_or_none(frame: pd.DataFrame) -> pd.DataFrame | None:
    try:
        return hashable_frame(frame)
    except TypeError:
        return None


def _row_hashes(frame: pd.DataFrame | None) -> np.ndarray | None:
    if frame is None:
        return None
    try:
        rows: np.ndarray = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:
        return None
    return rows


def column_hash(column: pd.Series) -> np.ndarray:
    """Pandas' hash of each cell of one column (``hash_pandas_object``, no index)."""
    rows: np.ndarray = pd.util.hash_pandas_object(column, index=False).to_numpy()
    return rows


def _same_data(a: pd.Series, b: pd.Series) -> bool:
    """Whether two columns hold the same values: one array object, or one numpy buffer.

    Both frames are alive while they are compared, so a shared address is shared data.
    """
    if a.dtype != b.dtype:
        return False
    if a.array is b.array:
        return True
    if isinstance(a.dtype, np.dtype):
        x, y = a.to_numpy(copy=False), b.to_numpy(copy=False)
        return bool(
            x.__array_interface__["data"] == y.__array_interface__["data"]
            and x.shape == y.shape
            and x.strides == y.strides
        )
    return False


class RowHashFold:
    """pandas' ``combine_hash_arrays`` (CPython's tuple hash), one column at a time.

    Folding ``column_hash`` of each column gives ``hash_pandas_object`` of the frame, without
    the frame of those columns (a copy) that pandas builds first.
    """

    def __init__(self, rows: int, columns: int) -> None:
        self._out = np.full(rows, 0x345678, dtype=np.uint64)
        self._mult = np.uint64(1000003)
        self._columns = columns
        self._i = 0

    def add(self, hashes: np.ndarray) -> None:
        inverse = self._columns - self._i
        self._out ^= hashes
        self._out *= self._mult
        self._mult += np.uint64(82520 + inverse + inverse)
        self._i += 1

    def result(self) -> np.ndarray:
        assert self._i == self._columns, "every column is folded in"
        self._out += np.uint64(97531)
        return self._out
