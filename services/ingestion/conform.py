"""Conform a raw frame to its contract's columns and dtypes, cell by cell.

Only lossless conversions happen silently: integer widths, integers to floats,
integral floats to integers, tz-aware timestamps to UTC. CSV text is parsed per
the contract. Anything else (``"abc"`` for a number, ``1.5`` for an integer, a
naive timestamp, a number where text is expected) fails that cell with a reason,
never a guess. Value checks (nulls, ranges, categories, uniqueness) are left to
the Pandera schema in :mod:`services.ingestion.validate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from services.contracts import SourceContract
from services.contracts.base import ColumnSpec
from services.contracts.schema import column_specs, pandas_dtype, source_spec
from services.errors import UnreadableInputError
from services.ingestion.objects import conform_objects

_TZ_SUFFIX = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")
_TRUE = {"true", "1", "t", "yes"}
_FALSE = {"false", "0", "f", "no"}


@dataclass
class Failures:
    """Row-level reasons, keyed by positional row number."""

    reasons: dict[int, list[dict[str, str | None]]] = field(default_factory=dict)
    batch: list[dict[str, str | None]] = field(default_factory=list)

    def add(self, rows: np.ndarray, check: str, column: str | None, values: pd.Series) -> None:
        for row, value in zip(rows.tolist(), values.tolist(), strict=True):
            self.reasons.setdefault(int(row), []).append(
                {"check": check, "column": column, "value": None if _isna(value) else repr(value)}
            )


def _isna(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def check_columns(
    frame: pd.DataFrame, contract: type[SourceContract], path: str
) -> list[dict[str, str | None]]:
    """Batch-level column problems; raises when the file is not this source at all."""
    specs = column_specs(contract)
    expected = [c.name for c in specs]
    present = [c for c in frame.columns if c in expected]
    keys = [c.name for c in specs if c.role in ("entity", "event_timestamp")]
    missing_keys = [k for k in keys if k not in frame.columns]
    if not present or missing_keys:
        raise UnreadableInputError(
            path,
            f"columns {list(frame.columns)[:10]} are not source {source_spec(contract).name!r} "
            f"(needs {keys}; missing {missing_keys or expected})",
        )
    problems: list[dict[str, str | None]] = []
    for name in expected:
        if name not in frame.columns:
            problems.append({"check": "column_missing", "column": name, "value": None})
    for name in frame.columns:
        if name not in expected:
            problems.append({"check": "column_unknown", "column": str(name), "value": None})
    return problems


def _numeric(raw: pd.Series, spec: ColumnSpec, failures: Failures, text: bool) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype):
        bad = raw.notna().to_numpy()
        failures.add(np.flatnonzero(bad), f"dtype({spec.kind})", spec.name, raw[bad])
        return pd.Series(np.nan, index=raw.index, dtype="float64")
    integer = spec.type.is_integer
    if pd.api.types.is_integer_dtype(raw.dtype) and integer:
        return _integers(raw, spec, failures)
    if pd.api.types.is_float_dtype(raw.dtype) and not integer:
        return raw  # the column's dtype (float32 or float64) is set by the caller
    if integer and raw.dtype == object:
        return _object_integers(raw, spec, failures, text)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        values = raw.astype("float64")
        bad = np.zeros(len(raw), dtype=bool)
    else:
        # Mixed objects (JSON push, CSV text): real numbers pass, CSV text is parsed, the rest
        # fails (a string is not a number anywhere else).
        def as_number(v: object) -> object:
            if isinstance(v, bool):
                return None
            if isinstance(v, int | float | np.integer | np.floating):
                return float(v)
            if isinstance(v, str) and text:
                parsed = pd.to_numeric(v.strip(), errors="coerce")
                return None if pd.isna(parsed) else float(parsed)
            return None

        values = raw.map(as_number).astype("float64")
        bad = raw.notna().to_numpy() & values.isna().to_numpy()
    if integer:
        frac = values.notna().to_numpy() & (values.fillna(0) % 1 != 0).to_numpy()
        bound = 2**31 if spec.type.name == "Int32" else 2**63
        filled = values.fillna(0).to_numpy()
        huge = (filled >= bound) | (filled < -bound)
        bad = bad | frac | huge
    if bad.any():
        failures.add(np.flatnonzero(bad), f"dtype({spec.kind})", spec.name, raw[bad])
        values = values.mask(bad)
    return _integral_floats(values) if integer else values


_INTEGER_TEXT = re.compile(r"^[+-]?\d+$")


def _integer_text(text: str) -> int | None:
    """An integer written as text: digits exactly, or a whole float below 2**53 (``"24.0"``)."""
    if _INTEGER_TEXT.match(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if number.is_integer() and abs(number) < 2**53 else None


def _object_integers(raw: pd.Series, spec: ColumnSpec, failures: Failures, text: bool) -> pd.Series:
    """Integers from mixed objects (JSON, CSV text) exactly: never through a float64."""
    bound = 2**31 if spec.type.name == "Int32" else 2**63

    def as_int(v: object) -> int | None:
        if isinstance(v, bool | np.bool_):
            return None
        whole = isinstance(v, float | np.floating) and float(v).is_integer()
        if isinstance(v, int | np.integer) or whole:
            number = int(v)  # type: ignore[call-overload]
        elif isinstance(v, str) and text:
            number_or_none = _integer_text(v.strip())
            if number_or_none is None:
                return None
            number = number_or_none
        else:
            return None
        return number if -bound <= number < bound else None

    values = [None if _isna(v) else as_int(v) for v in raw.tolist()]
    bad = np.array([v is None for v in values]) & raw.notna().to_numpy()
    if bad.any():
        failures.add(np.flatnonzero(bad), f"dtype({spec.kind})", spec.name, raw[bad])
    return pd.Series(pd.array(values, dtype="Int64"), index=raw.index)


def _integers(raw: pd.Series, spec: ColumnSpec, failures: Failures) -> pd.Series:
    """Integers of any width are kept exactly; only values past the declared width fail."""
    if spec.type.name == "Int32":
        if raw.dtype.itemsize <= 2 or (raw.dtype.itemsize == 4 and raw.dtype.kind != "u"):
            return raw
        huge = ((raw >= 2**31) | (raw < -(2**31))).fillna(False).to_numpy(dtype=bool)
    else:
        if raw.dtype.kind != "u" or raw.dtype.itemsize < 8:
            return raw
        huge = (raw >= 2**63).fillna(False).to_numpy(dtype=bool)
    if not huge.any():
        return raw
    failures.add(np.flatnonzero(huge), f"dtype({spec.kind})", spec.name, raw[huge])
    empty = raw.isna().to_numpy() | huge
    data = np.where(empty, 0, raw.to_numpy(dtype="uint64", na_value=0)).astype("int64")
    return pd.Series(pd.arrays.IntegerArray(data, empty), index=raw.index)


_UTC_NS = pd.DatetimeTZDtype("ns", "UTC")
_NAT = np.iinfo(np.int64).min


def _utc_ns(values: np.ndarray, spec: ColumnSpec, failures: Failures, raw: pd.Series) -> pd.Series:
    """Numpy datetimes meaning UTC, of any unit, as ``raw``'s column in ``datetime64[ns, UTC]``.

    A time outside what nanoseconds hold (1677-09-21 to 2262-04-11; a "valid until
    9999-12-31" sentinel, say) fails its row (``timestamp_out_of_range``, shown as in
    ``raw``). Parquet written by Arrow reads back in microseconds; pandas' own unit
    conversion checks every value in a slow loop, numpy's takes a tenth of that once the
    range is known. One array is allocated (the nanoseconds), which the result holds.
    """
    unit, _ = np.datetime_data(values.dtype)
    if unit != "ns":
        per = int(np.timedelta64(1, unit) // np.timedelta64(1, "ns"))  # type: ignore[call-overload]
        ticks = values.view("i8")
        limit = np.iinfo(np.int64).max // per
        outside = (ticks != _NAT) & ((ticks > limit) | (ticks < -limit))
        if outside.any():
            rows = np.flatnonzero(outside)
            failures.add(rows, "timestamp_out_of_range", spec.name, raw.iloc[rows])
            values = np.where(outside, np.datetime64("NaT"), values)
        values = values.astype("M8[ns]")
    # Integers given a zoned dtype are nanoseconds since the epoch in UTC (NaT's too): the
    # series holds ``values`` itself, where localizing naive times would copy them.
    ticks = values.view("i8")
    return pd.Series(ticks, index=raw.index, name=raw.name, dtype=_UTC_NS, copy=False)


def _integral_floats(values: pd.Series) -> pd.Series:
    """Whole-number float64 (NaN for empty cells) as nullable ``Int64``, without a Python pass."""
    floats = values.to_numpy(dtype="float64")
    empty = np.isnan(floats)
    data = np.where(empty, 0, floats).astype("int64")
    return pd.Series(pd.arrays.IntegerArray(data, empty), index=values.index)


def _timestamps(raw: pd.Series, spec: ColumnSpec, failures: Failures) -> pd.Series:
    if raw.dtype == _UTC_NS:
        return raw  # already what the contract stores: no conversion, no copy
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        # A zoned column holds its instants in UTC: read them as they are, without a copy.
        utc = raw.array.asi8.view(f"M8[{raw.dtype.unit}]")
        return _utc_ns(utc, spec, failures, raw)
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        if spec.naive_utc:  # the contract says what a time without a zone means
            return _utc_ns(raw.to_numpy(), spec, failures, raw)
        bad = raw.notna().to_numpy()
        failures.add(np.flatnonzero(bad), "timestamp_not_tz_aware", spec.name, raw[bad])
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    text = raw.map(lambda v: v.strip() if isinstance(v, str) else v)
    has_tz = text.map(lambda v: isinstance(v, str) and bool(_TZ_SUFFIX.search(v))).to_numpy()
    not_null = raw.notna().to_numpy()
    if spec.naive_utc:
        has_tz = text.map(lambda v: isinstance(v, str)).to_numpy()
    parsed = pd.to_datetime(text.where(has_tz), utc=True, errors="coerce", format="ISO8601")
    naive = not_null & ~has_tz
    unparsed = not_null & has_tz & parsed.isna().to_numpy()
    if naive.any():
        failures.add(np.flatnonzero(naive), "timestamp_not_tz_aware", spec.name, raw[naive])
    if unparsed.any():
        beyond = np.zeros(len(raw), dtype=bool)
        beyond[[r for r in np.flatnonzero(unparsed).tolist() if _beyond_ns(text.iloc[r])]] = True
        failures.add(
            np.flatnonzero(unparsed & ~beyond),
            "dtype(timestamp)",
            spec.name,
            raw[unparsed & ~beyond],
        )
        failures.add(np.flatnonzero(beyond), "timestamp_out_of_range", spec.name, raw[beyond])
    return parsed.astype("datetime64[ns, UTC]")


def _beyond_ns(text: str) -> bool:
    """Whether an ISO time that did not parse is a real time nanoseconds cannot hold."""
    try:
        pd.to_datetime(text, utc=True, format="ISO8601")
    except pd.errors.OutOfBoundsDatetime:
        return True
    except (ValueError, TypeError):
        return False
    return False


def _whole_seconds(col: pd.Series, spec: ColumnSpec, failures: Failures) -> None:
    """A UnixTimestamp feature must be whole seconds: Feast stores it online as seconds."""
    present = col.notna().to_numpy()
    fraction = ((col.dt.microsecond != 0) | (col.dt.nanosecond != 0)).to_numpy(dtype=bool)
    bad = present & fraction
    if bad.any():
        failures.add(np.flatnonzero(bad), "timestamp_whole_seconds", spec.name, col[bad])


def _strings(raw: pd.Series, spec: ColumnSpec, failures: Failures) -> pd.Series:
    if raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=False) == "string":
        return raw  # every cell is text, none is null: nothing to mark or normalize
    not_null = raw.notna().to_numpy()
    if pd.api.types.infer_dtype(raw, skipna=True) == "string":  # every present cell is text
        is_str = not_null
    else:
        is_str = raw.map(lambda v: isinstance(v, str)).to_numpy()
    bad = not_null & ~is_str
    if bad.any():
        failures.add(np.flatnonzero(bad), "dtype(string)", spec.name, raw[bad])
    if raw.dtype == object and is_str.all():
        return raw
    return raw.where(is_str, None).astype(object)


def _bools(raw: pd.Series, spec: ColumnSpec, failures: Failures, text: bool) -> pd.Series:
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw

    def as_bool(v: object) -> bool | None:
        if isinstance(v, bool | np.bool_):
            return bool(v)  # a real boolean (JSON true, an object column of bools)
        if isinstance(v, str) and text:
            word = v.strip().lower()  # CSV text: the contract is the parser
            return True if word in _TRUE else False if word in _FALSE else None
        return None

    out = raw.map(as_bool)
    bad = raw.notna().to_numpy() & out.isna().to_numpy()
    if bad.any():
        failures.add(np.flatnonzero(bad), f"dtype({spec.kind})", spec.name, raw[bad])
    return out.astype("boolean")


def check_future(
    typed: pd.DataFrame, contract: type[SourceContract], limit: datetime, failures: Failures
) -> None:
    """Fail ``future_timestamp`` for event/created times after ``limit`` (now plus the horizon).

    Such a row would sit invisible in the offline store until its time came, and would never
    be served online before then: a producer's clock or unit error, caught at the gate.
    """
    bound = pd.Timestamp(limit).tz_convert("UTC")
    for spec in column_specs(contract):
        if spec.role not in ("event_timestamp", "created_timestamp"):
            continue
        column = typed[spec.name]
        late = (column > bound).fillna(False).to_numpy(dtype=bool)
        if late.any():
            failures.add(np.flatnonzero(late), "future_timestamp", spec.name, column[late])


def conform(
    frame: pd.DataFrame, contract: type[SourceContract], failures: Failures, *, text: bool = False
) -> pd.DataFrame:
    """Return the contract's columns in contract dtypes; record failing cells in ``failures``.

    ``text`` says the cells are CSV text, which the contract parses (``"12"`` for a number,
    ``"true"`` for a boolean); anywhere else (parquet, a push, a DataFrame) a string is not a
    number or a boolean and fails. Timestamps may be ISO 8601 text everywhere (JSON has no
    timestamp type).

    Cells that fail conversion, and nulls in non-nullable integer/bool columns
    (which cannot be held in those dtypes), are recorded and filled with a
    placeholder; those rows are quarantined whatever the later checks say.

    Columns already in their contract dtype are not copied: the result may share
    memory with ``frame``, so treat it as read-only.
    """
    n = len(frame)
    if not isinstance(frame.index, pd.RangeIndex) or not frame.index.equals(pd.RangeIndex(n)):
        frame = frame.copy(deep=False)  # positions are the row numbers; no data copied
        frame.index = pd.RangeIndex(n)
    out = {}
    for spec in column_specs(contract):
        if spec.name not in frame.columns:
            out[spec.name] = pd.Series([None] * n, dtype=object)
            continue
        raw = frame[spec.name]
        name = spec.type.name
        if spec.type.is_numeric:
            col = _numeric(raw, spec, failures, text)
        elif name == "UnixTimestamp":
            col = _timestamps(raw, spec, failures)
            if spec.role == "feature":
                _whole_seconds(col, spec, failures)
        elif name == "Bool":
            col = _bools(raw, spec, failures, text)
        elif name == "String":
            col = _strings(raw, spec, failures)
        else:
            col = conform_objects(raw, spec, failures)
        if (spec.type.is_integer or name == "Bool") and not spec.nullable:
            empty = col.isna().to_numpy()
            if empty.any():
                nulls = empty & raw.isna().to_numpy()
                if nulls.any():
                    failures.add(np.flatnonzero(nulls), "not_nullable", spec.name, raw[nulls])
                col = col.fillna(0 if spec.type.is_integer else False)
        out[spec.name] = col.astype(pandas_dtype(spec), copy=False)
    # copy=False: one block per column instead of consolidating (copying) them all.
    return pd.DataFrame(out, copy=False)
