"""Run a contract's Pandera schema lazily and turn its failures into row reasons.

One pass collects every failure (``lazy=True``), on the frame itself when every
row converted (no copy); the key uniqueness check uses
``report_duplicates="exclude_first"`` so only later copies of a key fail.
Column-level failures (no row index) are batch problems and fail every row.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pandera.errors as pa_errors

from services.contracts import SourceContract
from services.contracts.schema import validation_schema
from services.ingestion.conform import Failures
from services.ingestion.prescreen import suspect_rows


def validate_rows(
    frame: pd.DataFrame,
    contract: type[SourceContract],
    candidates: np.ndarray,
    failures: Failures,
    *,
    screen: bool = True,
) -> None:
    """Validate ``frame.iloc[candidates]``; add each failing row's reasons to ``failures``.

    With ``screen`` (always, outside the test that compares both ways) a whole-column first
    pass (``prescreen``) picks the rows that may fail, and only those get Pandera's full run.
    """
    if len(candidates) == 0:
        return
    # Every row converted: validate the frame itself rather than a copy of it.
    subset = frame if len(candidates) == len(frame) else frame.iloc[candidates]
    subset.index = pd.RangeIndex(len(subset))
    schema = validation_schema(contract)
    if screen:
        suspects = suspect_rows(subset, schema)
        if suspects is not None:  # only rows that may fail go through Pandera's full run
            if len(suspects) == 0:
                return
            candidates = candidates[suspects]
            subset = subset.iloc[suspects]
            subset.index = pd.RangeIndex(len(subset))
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
        return
    except pa_errors.SchemaErrors as exc:
        cases = exc.failure_cases
    row_level = cases[cases["index"].notna()]
    batch_level = cases[cases["index"].isna()]
    for _, case in batch_level.iterrows():
        failures.batch.append(
            {"check": str(case["check"]), "column": _col(case["column"]), "value": None}
        )
    if row_level.empty:
        return
    positions = candidates[row_level["index"].astype("int64").to_numpy()]
    seen: set[tuple[int, str, str | None]] = set()
    found: dict[int, list[dict[str, str | None]]] = {}
    for pos, check, column, value in zip(
        positions.tolist(),
        row_level["check"].astype(str),
        row_level["column"],
        row_level["failure_case"],
        strict=True,
    ):
        check = _normalise_check(check)
        col = "key" if check == "duplicate_key" else _col(column)
        if (pos, check, col) in seen:
            continue
        seen.add((pos, check, col))
        found.setdefault(int(pos), []).append(
            {"check": check, "column": col, "value": None if _isna(value) else repr(value)}
        )
    # Pandera's order of a row's failures depends on the rest of the frame; a row's reasons are
    # put in the frame's column order (the key last), so a row reads the same however it is
    # batched.
    order = {str(name): i for i, name in enumerate(frame.columns)}
    for pos, items in found.items():
        items.sort(key=lambda x: (order.get(str(x["column"]), len(order)), str(x["check"])))
        failures.reasons.setdefault(pos, []).extend(items)


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
