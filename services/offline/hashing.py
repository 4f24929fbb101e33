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
