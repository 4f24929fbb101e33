"""The Pandera checks a column's type implies beyond its dtype.

Arrays: a fixed length (an embedding's dimension) and a range for every element;
structs: exactly the declared fields. Cells reach these checks already conformed
(lists of Python scalars, dicts), see :mod:`services.ingestion.conform`; nulls are
left to the column's ``nullable``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandera.pandas as pa

from services.contracts.base import ColumnSpec


def _all_in(values: Any, low: float | None, high: float | None) -> bool:
    """Every element a number within [low, high] (NaN and None are not), checked at once."""
    try:
        data = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    ok = ~np.isnan(data)
    if low is not None:
        ok &= data >= low
    if high is not None:
        ok &= data <= high
    return bool(ok.all())


def type_checks(spec: ColumnSpec) -> list[pa.Check]:
    """Element-wise checks for the column's type (none for plain scalars)."""
    ftype = spec.type
    checks: list[pa.Check] = []
    if ftype.is_array and ftype.length is not None:
        length = ftype.length
        checks.append(
            pa.Check(
                lambda v: len(v) == length,
                element_wise=True,
                name=f"array_length({length})",
                error=f"array of exactly {length} elements",
            )
        )
    if ftype.is_array and (spec.element_ge is not None or spec.element_le is not None):
        low, high = spec.element_ge, spec.element_le
        checks.append(
            pa.Check(
                lambda v: _all_in(v, low, high),
                element_wise=True,
                name=f"element_in_range({low}, {high})",
                error=f"every element within [{low}, {high}]",
            )
        )
    if ftype.name == "Struct":
        names = {n for n, _ in ftype.fields}
        checks.append(
            pa.Check(
                lambda v: isinstance(v, dict) and set(v) == names,
                element_wise=True,
                name="struct_fields",
                error=f"a struct with exactly the fields {sorted(names)}",
            )
        )
    return checks
