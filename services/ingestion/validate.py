"""Run a contract's Pandera schema lazily and turn its failures into row reasons.

One pass collects every failure (``lazy=True``), on the frame itself when every
row converted (no copy); the key uniqueness check uses
``report_duplicates="exclude_first"`` so only later copies of a key fail.
Column-level failures (no row index) are batch problems and fail every row.

A row that already failed a cell before Pandera (a dtype, a future time: ``conform``) is left
out of that pass, which judges the rows that would be written; ``validate_failed_rows`` then
gives it every other reason of its own, so its reasons are complete too.

The key check is the schema's own (``unique``, ``exclude_first``), judged here with pandas'
``duplicated`` on the same rows: Pandera lays a failed uniqueness check's cases out with
``DataFrame.unstack``, ~0.3 ms per repeated row (10,000 repeats took 2.6 s). A reason's value
is its cell as the column holds it, and a repeated key shows its first key value: Pandera's
own cases take a type and an order from whatever else failed in the batch.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pandera.errors as pa_errors
import pandera.pandas as pa

from services.contracts import SourceContract
from services.contracts.schema import cell_schema, unkeyed_schema, validation_schema
from services.ingestion.conform import Failures
from services.ingestion.prescreen import suspect_rows, unique_columns

Found = dict[int, list[dict[str, str | None]]]  # each row's reasons, by its position in the frame


def validate_rows(
    frame: pd.DataFrame,
    contract: type[SourceContract],
    candidates: np.ndarray,
    failures: Failures,
    *,
    screen: bool = True,
    pandera_keys: bool = False,
) -> None:
    """Validate ``frame.iloc[candidates]``; add each failing row's reasons to ``failures``.

    With ``screen`` (always, outside the test that compares both ways) a whole-column first
    pass (``prescreen``) picks the rows that may fail, and only those get Pandera's full run.
    ``pandera_keys`` (only in the test that compares both ways) leaves the key check to Pandera.
    """
    if len(candidates) == 0:
        return
    # Every row converted: validate the frame itself rather than a copy of it.
    subset = frame if len(candidates) == len(frame) else frame.iloc[candidates]
    subset.index = pd.RangeIndex(len(subset))
    schema = validation_schema(contract)
    if screen:  # only rows that may fail go through Pandera's full run
        screened = _screen(subset, schema, candidates)
        if screened is None:
            return
        subset, candidates = screened
    keys = [k for k in unique_columns(schema) if k in subset]
    found: Found = {}
    if keys and not pandera_keys:
        schema = unkeyed_schema(contract)
        for pos, value in _repeated_keys(subset, keys):
            found[int(candidates[pos])] = [
                {"check": "duplicate_key", "column": "key", "value": value}
            ]
    _run_pandera(subset, candidates, schema=schema, keys=keys, batch=failures.batch, found=found)
    order = _column_order(frame)
    for pos, items in found.items():
        items.sort(key=lambda x: (order(x), str(x["check"])))
        failures.reasons.setdefault(pos, []).extend(items)


def validate_failed_rows(
    frame: pd.DataFrame, contract: type[SourceContract], failures: Failures
) -> None:
    """Add every other reason of the rows that already have one (a cell failed before Pandera).

    Call before ``validate_rows``, which leaves these rows out. Each row is judged by the cell
    checks (``cell_schema``) of its other columns: a cell that failed holds a placeholder, so
    its column is left out; the key is not judged, as a quarantined row takes no place among
    the rows that are written. Only these rows cost more: grouped by the columns they failed,
    each group gets the first pass and Pandera on its suspects, as ``validate_rows`` does.
    """
    groups: dict[frozenset[str], list[int]] = {}
    for row in sorted(failures.reasons):
        failed = frozenset(str(x["column"]) for x in failures.reasons[row])
        groups.setdefault(failed, []).append(row)
    if not groups:
        return
    base = cell_schema(contract)
    found: Found = {}
    for failed, rows in groups.items():
        drop = [str(name) for name in base.columns if name in failed]
        schema = base.remove_columns(drop) if drop else base
        subset = frame.iloc[rows].drop(columns=drop)
        subset.index = pd.RangeIndex(len(subset))
        screened = _screen(subset, schema, np.asarray(rows, dtype=np.int64))
        if screened is not None:
            # A whole column's failure here is the batch's, which ``validate_rows`` reports.
            _run_pandera(*screened, schema=schema, keys=[], batch=[], found=found)
    order = _column_order(frame)
    for pos, items in found.items():
        items.sort(key=lambda x: (order(x), str(x["check"])))
        merged = failures.reasons[pos] + items
        merged.sort(key=order)  # stable: in column order, as a row validated whole reads
        failures.reasons[pos] = merged


def _screen(
    subset: pd.DataFrame, schema: pa.DataFrameSchema, candidates: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray] | None:
    """The rows of ``subset`` that may fail ``schema`` (``prescreen``), with their positions.

    ``None`` when no row may fail; every row when the first pass cannot tell.
    """
    suspects = suspect_rows(subset, schema)
    if suspects is None:
        return subset, candidates
    if len(suspects) == 0:
        return None
    subset = subset.iloc[suspects]
    subset.index = pd.RangeIndex(len(subset))
    return subset, candidates[suspects]


def _run_pandera(
    subset: pd.DataFrame,
    candidates: np.ndarray,
    *,
    schema: pa.DataFrameSchema,
    keys: list[str],
    batch: list[dict[str, str | None]],
    found: Found,
) -> None:
    """Validate ``subset`` lazily; its rows' reasons go to ``found``, a column's to ``batch``."""
    try:
        with warnings.catch_warnings():
            # pandera concatenates its failure cases with all-NA frames, which pandas 2.x
            # flags as a future behaviour change; the result is the same either way.
            warnings.filterwarnings(
                "ignore", "The behavior of DataFrame concatenation", FutureWarning
            )
            # inplace: the schema does not coerce, so Pandera has nothing to write and
            # need not copy the frame first.
            schema.validate(subset, lazy=True, inplace=True)
    except pa_errors.SchemaErrors as exc:
        _add_cases(exc.failure_cases, subset, keys, candidates, batch, found)


def _column_order(frame: pd.DataFrame) -> Callable[[dict[str, str | None]], int]:
    """A reason's place in a row: its column's in the frame, the key (or none) last.

    Pandera's order of a row's failures depends on the rest of the frame; in column order a
    row reads the same however it is batched.
    """
    order = {str(name): i for i, name in enumerate(frame.columns)}
    return lambda item: order.get(str(item["column"]), len(order))


def _repeated_keys(subset: pd.DataFrame, keys: list[str]) -> list[tuple[int, str | None]]:
    """Each later copy of a key (``exclude_first``), with the value its reason shows."""
    repeated = np.flatnonzero(subset.duplicated(subset=keys, keep="first").to_numpy())
    return list(zip(repeated.tolist(), _shown_keys(subset, repeated, keys), strict=True))


def _shown_keys(subset: pd.DataFrame, at: np.ndarray, keys: list[str]) -> list[str | None]:
    """What a repeated key's reason shows: the row's first key value that is not missing.

    Pandera's own case for the row is whichever key column its layout lists first (that
    follows the frame's internal dtype blocks), so the reason names the first in key order.
    """
    shown: list[object] = [None] * len(at)
    rows = subset.iloc[at]
    for name in reversed(keys):  # the first key column with a value wins
        for i, value in enumerate(rows[name].astype(object).tolist()):
            if not _isna(value):
                shown[i] = value
    return [None if value is None else repr(value) for value in shown]


def _add_cases(
    cases: pd.DataFrame,
    subset: pd.DataFrame,
    keys: list[str],
    candidates: np.ndarray,
    batch: list[dict[str, str | None]],
    found: Found,
) -> None:
    """Add Pandera's failure cases: batch-level ones to ``batch``, each row's to ``found``."""
    row_level = cases[cases["index"].notna()]
    batch_level = cases[cases["index"].isna()]
    for _, case in batch_level.iterrows():
        batch.append({"check": str(case["check"]), "column": _col(case["column"]), "value": None})
    if row_level.empty:
        return
    index = row_level["index"].astype("int64").to_numpy()
    positions = candidates[index]
    seen = {(pos, item["check"], item["column"]) for pos, items in found.items() for item in items}
    for at, pos, check, column, value in zip(
        index.tolist(),
        positions.tolist(),
        row_level["check"].astype(str),
        row_level["column"],
        _cell_values(row_level, index, subset),
        strict=True,
    ):
        check = _normalise_check(check)
        col = "key" if check == "duplicate_key" else _col(column)
        if (pos, check, col) in seen:
            continue
        seen.add((pos, check, col))
        if check == "duplicate_key":
            shown = _shown_keys(subset, np.array([at]), keys)[0]
        else:
            shown = None if _isna(value) else repr(value)
        found.setdefault(int(pos), []).append({"check": check, "column": col, "value": shown})


def _cell_values(row_level: pd.DataFrame, index: np.ndarray, subset: pd.DataFrame) -> list[object]:
    """Each failing cell's value as its column holds it (a Python int, float, str, Timestamp).

    Pandera's own ``failure_case`` column takes the common type of every check's cases: the
    same -1 read ``-1.0`` or ``np.int64(-1)`` depending on what else failed in the batch.
    """
    values: list[object] = row_level["failure_case"].tolist()
    columns = row_level["column"].to_numpy()
    for name in pd.unique(columns):
        if not isinstance(name, str) or name not in subset.columns:
            continue  # a check of the whole row: Pandera's case is all there is
        at = np.flatnonzero(columns == name)
        for i, cell in zip(at.tolist(), subset[name].iloc[index[at]].astype(object), strict=True):
            values[i] = cell
    return values


def _col(column: object) -> str | None:
    return None if column is None or _isna(column) else str(column)


def _isna(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _normalise_check(check: str) -> str:
    if check in ("field_uniqueness", "multiple_fields_uniqueness") or check.startswith("unique"):
        return "duplicate_key"
    return check
