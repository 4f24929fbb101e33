"""What an online request names, checked strictly before anything is read.

Each column of ``entities`` and ``request_data`` is a list of values, one per entity row: a
list, a tuple, a numpy array or a pandas Series; a bare string or number is refused naming
the column, never read character by character. Request data may be sent among the entities
(Feast's shape): those columns are moved to request data here, for every caller.

Join keys must be values of their declared type (an int for Int32/Int64 within its range, a
str for String: never ``"1"`` for a number); request data must be of its field's type, within
the contract's range and allowed values, one value per entity row, and no unknown field.
Numpy scalars count as the Python value they hold (``np.int64(1)`` is the int 1), as Feast
accepts them; a float is never an integer and a bool never a number. Failures are
``EntityKeyError`` / ``RequestDataError`` naming the key or field (a 422).

An ``entities`` column that is neither a join key nor request data of this request is skipped,
as Feast skips it (callers send the same entity rows with different feature lists); it must
still have one value per entity row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from services.contracts.specs import ColumnSpec
from services.contracts.types import FieldType
from services.errors import EntityKeyError, RequestDataError, RequestError, RequestTooLargeError
from services.online.values import canonical
from services.reads import ServicePlan

# What a caller may give as one column; ``check_request`` refuses anything else.
ValueColumn: TypeAlias = Sequence[Any] | npt.NDArray[Any] | pd.Series
ValueColumns = Mapping[str, ValueColumn]

_INT_RANGE = {"Int32": (-(2**31), 2**31), "Int64": (-(2**63), 2**63)}
# Numpy scalars a caller's arrays and frames hold; timestamps are left to ``canonical``.
_NUMPY_SCALARS = (np.number, np.bool_, np.str_)


@dataclass(frozen=True)
class CheckedRequest:
    """A request's inputs once checked: join key columns and request data, as Python values."""

    rows: int
    keys: dict[str, list[Any]]
    request_data: dict[str, list[Any]]


def _python_value(value: Any) -> Any:
    return value.item() if isinstance(value, _NUMPY_SCALARS) else value


def check_key_value(name: str, ktype: FieldType, row: int, value: Any) -> Any:
    """A join key value of the declared type, no coercion (a 422 naming the key otherwise).

    Returns the value as a Python scalar (a numpy scalar's value).
    """
    value = _python_value(value)
    if ktype.is_integer:
        if not isinstance(value, int) or isinstance(value, bool):
            raise EntityKeyError(name, f"row {row}: expected {ktype}, got {value!r}")
        low, high = _INT_RANGE[ktype.name]
        if not low <= value < high:
            raise EntityKeyError(name, f"row {row}: {value} is outside {ktype}")
    elif not isinstance(value, str):
        raise EntityKeyError(name, f"row {row}: expected {ktype}, got {value!r}")
    return value


def _value_list(name: str, values: Any, error: Callable[[str, str], RequestError]) -> list[Any]:
    """One column's values; a scalar (a string too) or an iterator is refused, not iterated."""
    if isinstance(values, list):
        return values
    if isinstance(values, tuple):
        return list(values)
    if isinstance(values, pd.Series):
        return list(values.tolist())
    if isinstance(values, np.ndarray) and values.ndim > 0:
        return list(values)  # numpy scalars: ``tolist`` would make datetime64[ns] integers
    got = "a 0-d numpy array" if isinstance(values, np.ndarray) else type(values).__name__
    raise error(name, f"expected a list of values, got {got}")


def _split(
    plan: ServicePlan, entities: ValueColumns, request_data: ValueColumns | None
) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Entity columns and request data as lists, request fields sent in ``entities`` moved.

    Feast takes request data among the entities; a field sent in both places is refused
    rather than one of its two values dropped.
    """
    fields = {spec.name for spec in plan.request_fields}
    given = request_data or {}
    both = sorted(fields.intersection(entities, given))
    if both:
        raise RequestDataError(both[0], "given in both entities and request_data")
    columns = {
        name: _value_list(name, values, EntityKeyError)
        for name, values in entities.items()
        if name not in fields
    }
    moved = {name: values for name, values in entities.items() if name in fields}
    request = {
        name: _value_list(name, values, RequestDataError)
        for name, values in {**moved, **given}.items()
    }
    return columns, request


def check_request(
    plan: ServicePlan,
    entities: ValueColumns,
    request_data: ValueColumns | None,
    max_rows: int,
) -> CheckedRequest:
    """Everything an online read takes from its caller, checked (see the module docstring)."""
    columns, request = _split(plan, entities, request_data)
    rows, keys = check_entities(plan, columns, request, max_rows)
    return CheckedRequest(rows, keys, check_request_data(plan, request, rows))


def check_entities(
    plan: ServicePlan,
    entities: Mapping[str, list[Any]],
    request_data: Mapping[str, list[Any]],
    max_rows: int,
) -> tuple[int, dict[str, list[Any]]]:
    """Validate entity keys strictly (no coercion); the number of rows and the key columns."""
    key_types = plan.key_types
    missing = [k for k in key_types if k not in entities]
    if missing:
        raise EntityKeyError(missing[0], "missing")
    lengths = {len(entities[k]) for k in key_types}
    if len(lengths) > 1:
        raise EntityKeyError(next(iter(key_types)), "entity key lists differ in length")
    n = lengths.pop() if lengths else _request_rows(plan, request_data)
    for name in sorted(entities):
        if name not in key_types and len(entities[name]) != n:
            raise EntityKeyError(name, f"has {len(entities[name])} values for {n} entity rows")
    if n > max_rows:
        raise RequestTooLargeError("entity rows", max_rows)
    keys = {
        key: [check_key_value(key, ktype, i, v) for i, v in enumerate(entities[key])]
        for key, ktype in key_types.items()
    }
    return n, keys


def _request_rows(plan: ServicePlan, request_data: Mapping[str, list[Any]]) -> int:
    """Rows of a request with no join key at all (on-demand features over request data)."""
    lengths = {len(request_data[f.name]) for f in plan.request_fields if f.name in request_data}
    return lengths.pop() if len(lengths) == 1 else 1


def _request_value_ok(spec: ColumnSpec, value: Any) -> bool:
    ftype = spec.type
    if ftype.is_numeric:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ftype.is_integer:
            ok = ok and isinstance(value, int)
        return ok and not (isinstance(value, float) and not math.isfinite(value))
    if ftype.name == "String":
        return isinstance(value, str)
    if ftype.name == "Bool":
        return isinstance(value, bool)
    return True  # other types are checked by the conversion to their canonical value


def check_request_value(spec: ColumnSpec, row: int, value: Any) -> None:
    """A request value of its field's type, range and allowed values, no coercion."""
    value = _python_value(value)
    if value is None and spec.nullable:
        return
    if value is None or not _request_value_ok(spec, value):
        raise RequestDataError(spec.name, f"row {row}: expected {spec.type}, got {value!r}")
    if (spec.ge is not None and value < spec.ge) or (spec.le is not None and value > spec.le):
        raise RequestDataError(
            spec.name, f"row {row}: {value} outside the contract range [{spec.ge}, {spec.le}]"
        )
    if spec.allowed is not None and value not in spec.allowed:
        raise RequestDataError(spec.name, f"row {row}: {value!r} not one of {list(spec.allowed)}")


def check_request_data(
    plan: ServicePlan, request_data: Mapping[str, list[Any]], rows: int
) -> dict[str, list[Any]]:
    """Validate request data against its contract: type and range, no coercion."""
    known = {spec.name for spec in plan.request_fields}
    unknown = sorted(set(request_data) - known)
    if unknown:
        raise RequestDataError(unknown[0], f"not a request field of {plan.name} ({sorted(known)})")
    out: dict[str, list[Any]] = {}
    for spec in plan.request_fields:
        if spec.name not in request_data:
            raise RequestDataError(spec.name, "missing (needed by an on-demand feature)")
        values = request_data[spec.name]
        if len(values) != rows:
            raise RequestDataError(spec.name, f"{len(values)} values for {rows} entity rows")
        for i, v in enumerate(values):
            check_request_value(spec, i, v)
        try:
            out[spec.name] = [canonical(v, spec.type) for v in values]
        except (TypeError, ValueError) as exc:
            raise RequestDataError(spec.name, f"not of type {spec.type}: {exc}") from None
    return out
