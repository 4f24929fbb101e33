"""A whole-column first pass over a contract's Pandera schema: which rows may fail it.

Pandera's lazy validation of a clean million-row batch costs far more than its checks: a
per-cell Python scan of every text column for its dtype, the key's duplicates, failure-case
bookkeeping. This pass evaluates the same schema's parts over whole columns (each built-in or
element-wise ``Check`` object itself, so Pandera's own semantics, ``ignore_na`` included; each
column's dtype and nullability; the key's duplicates, every copy) and returns the rows that
failed any of them. ``validate_rows`` then runs the full schema on those rows only, so every
reason is still Pandera's.

The pass must never miss a failing row; it may name rows that then pass. Where the schema has
a part whose answer for a row could depend on other rows (a custom vectorised check, a
dataframe-wide check, a ``groupby``) or that this pass does not evaluate (a regex column, an
index, parsers), or where a whole column fails its dtype, it answers ``None``: Pandera
validates every row, as before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.engines.pandas_engine import Engine

from services.offline.hashing import RowHashFold, column_hash

# Pandera's built-in checks that decide each value alone (no aggregate over the column).
ROW_LOCAL_CHECKS = frozenset(
    {
        "equal_to",
        "not_equal_to",
        "greater_than",
        "greater_than_or_equal_to",
        "less_than",
        "less_than_or_equal_to",
        "in_range",
        "isin",
        "notin",
        "str_matches",
        "str_contains",
        "str_startswith",
        "str_endswith",
        "str_length",
    }
)


class _UnscreenableError(Exception):
    """The schema has a part this pass cannot answer row by row."""


def suspect_rows(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> np.ndarray | None:
    """Positions of the rows of ``frame`` that may fail ``schema``; ``None``: any row may.

    ``frame`` must have a ``RangeIndex`` from 0 (positions and labels are the same).
    """
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        return None
    try:
        _screenable(frame, schema)
        suspect = np.zeros(len(frame), dtype=bool)
        for name, column in schema.columns.items():
            _screen_column(frame[name], column, suspect)
        keys = unique_columns(schema)
        if keys:
            suspect |= _may_repeat(frame, keys)
    except _UnscreenableError:
        return None
    return np.flatnonzero(suspect)


def unique_columns(schema: pa.DataFrameSchema) -> list[str]:
    """The columns of the schema's row key check (``unique``); [] when it has none."""
    unique = schema.unique
    return [] if not unique else [unique] if isinstance(unique, str) else list(unique)


def _may_repeat(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Every copy of a repeated key, and perhaps a few more rows.

    Rows are compared by a 64-bit hash of their key, folded column by column (no copy of the
    key columns): a collision only adds a row that Pandera then passes, and hashing is twice
    as fast as pandas' exact ``duplicated`` on several columns.
    """
    fold = RowHashFold(len(frame), len(keys))
    for name in keys:
        fold.add(column_hash(frame[name]))
    repeated: np.ndarray = pd.Series(fold.result()).duplicated(keep=False).to_numpy()
    return repeated


def _screenable(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> None:
    if schema.checks or schema.index is not None or schema.parsers or schema.coerce:
        raise _UnscreenableError
    if schema.add_missing_columns or schema.drop_invalid_rows:
        raise _UnscreenableError
    if list(map(str, frame.columns)) != list(map(str, schema.columns)):
        raise _UnscreenableError  # a missing, extra or moved column: Pandera names it
    for column in schema.columns.values():
        if column.regex or column.parsers or column.coerce:
            raise _UnscreenableError


def _screen_column(series: pd.Series, column: pa.Column, suspect: np.ndarray) -> None:
    distinct = _distinct(series)
    if distinct is not None:
        _screen_distinct(*distinct, column, suspect)
        return
    if column.dtype is not None:
        _screen_dtype(series, column.dtype, suspect)
    if not column.nullable:
        suspect |= series.isna().to_numpy()
    if column.unique:
        suspect |= series.duplicated(keep=False).to_numpy()
    for check in column.checks:
        if check.groupby is not None:
            raise _UnscreenableError
        if not (check.element_wise or check.name in ROW_LOCAL_CHECKS):
            raise _UnscreenableError  # a vectorised custom check may look at the whole column
        try:
            output = check(series).check_output
        except Exception as exc:  # Pandera reports a check that raises, by its own rules
            raise _UnscreenableError from exc
        _mark_failed(output, suspect)


# An object column is screened by its distinct values when a sample of this many rows holds
# at most an eighth as many: country codes, devices, categories, not UUIDs.
SAMPLE = 4096
DISTINCT_SHARE = 8


def _distinct(series: pd.Series) -> tuple[np.ndarray, pd.Series] | None:
    """A text column of few distinct values as ``(codes, values)``: ``series`` is ``values[codes]``.

    Code -1 is a null. ``None`` where screening row by row is as cheap, or not known to be exact.
    """
    if series.dtype != object or len(series) <= SAMPLE:
        return None
    # Text only: factorizing merges values that compare equal, and 1, 1.0 and True do.
    if pd.api.types.infer_dtype(series, skipna=True) != "string":
        return None
    if len(pd.unique(series.iloc[:SAMPLE])) > SAMPLE // DISTINCT_SHARE:
        return None
    codes, values = pd.factorize(series)
    return codes, pd.Series(np.asarray(values, dtype=object), dtype=object)


def _screen_distinct(
    codes: np.ndarray, values: pd.Series, column: pa.Column, suspect: np.ndarray
) -> None:
    """Screen each distinct value once and mark every row holding a failed one.

    Exact for the parts screened here: a dtype, nullability and a row-local check decide each
    value alone. Null rows are suspect unless the column is nullable and every check ignores
    nulls (as Pandera's own ``ignore_na`` does); a unique column goes row by row.
    """
    if column.unique:
        raise _UnscreenableError
    failed = np.zeros(len(values) + 1, dtype=bool)  # the last slot: code -1, a null
    if column.dtype is not None:
        _screen_dtype(values, column.dtype, failed[:-1])
    failed[-1] = not column.nullable or any(not check.ignore_na for check in column.checks)
    for check in column.checks:
        if check.groupby is not None:
            raise _UnscreenableError
        if not (check.element_wise or check.name in ROW_LOCAL_CHECKS):
            raise _UnscreenableError
        try:
            output = check(values).check_output
        except Exception as exc:
            raise _UnscreenableError from exc
        _mark_failed(output, failed[:-1])
    suspect |= failed[codes]


def _screen_dtype(series: pd.Series, dtype: object, suspect: np.ndarray) -> None:
    # Pandera checks each cell of a text column is a str (or null) in Python; pandas' C scan
    # says the same for a column of strings and nulls.
    if (
        str(dtype) == "str"
        and series.dtype == object
        and pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")
    ):
        return
    verdict = dtype.check(Engine.dtype(series.dtype), series)  # type: ignore[attr-defined]
    if isinstance(verdict, bool | np.bool_):
        if not verdict:
            raise _UnscreenableError  # the whole column is the wrong type: a batch problem
        return
    _mark_failed(verdict, suspect)


def _mark_failed(output: object, suspect: np.ndarray) -> None:
    """Add the rows a check's output says failed (a boolean Series over some of the rows)."""
    if isinstance(output, pd.Series) and pd.api.types.is_bool_dtype(output.dtype):
        # A nullable boolean answer's NA counts as failed: Pandera decides those rows.
        passed = output.to_numpy(dtype=bool, na_value=False)
        suspect[np.asarray(output.index[~passed], dtype=np.int64)] = True
        return
    if isinstance(output, np.ndarray) and output.dtype == bool and len(output) == len(suspect):
        suspect |= ~output
        return
    raise _UnscreenableError  # an answer for the whole column, or of a shape not known here
