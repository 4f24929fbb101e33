"""What an online request names, checked strictly before anything is read.

Join keys must be values of their declared type (an int for Int32/Int64 within its range, a
str for String: never ``"1"`` for a number); request data must be of its field's type, within
the contract's range and allowed values, one value per entity row, and no unknown field.
Failures are ``EntityKeyError`` / ``RequestDataError`` naming the key or field (a 422).

An ``entities`` column that is neither a join key nor request data of this request is skipped,
as Feast skips it (callers send the same entity rows with different feature lists); it must
still have one value per entity row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from services.contracts.specs import ColumnSpec
from services.contracts.types import FieldType
from services.errors import EntityKeyError, RequestDataError, RequestTooLargeError
from services.online.values import canonical
from services.reads import ServicePlan

_INT_RANGE = {"Int32": (-(2**31), 2**31), "Int64": (-(2**63), 2**63)}


def check_key_value(name: str, ktype: FieldType, row: int, value: Any) -> None:
    """A join key value of the declared type, no coercion (a 422 naming the key otherwise)."""
    if ktype.is_integer:
        if not isinstance(value, int) or isinstance(value, bool):
            raise EntityKeyError(name, f"row {row}: expected {ktype}, got {value!r}")
        low, high = _INT_RANGE[ktype.name]
        if not low <= value < high:
            raise EntityKeyError(name, f"row {row}: {value} is outside {ktype}")
    elif not isinstance(value, str):
        raise EntityKeyError(name, f"row {row}: expected {ktype}, got {value!r}")


def check_entities(plan: ServicePlan, entities: Mapping[str, Sequence[Any]], max_rows: int) -> int:
    """Validate entity keys strictly (no coercion); return the number of rows."""
    key_types = plan.key_types
    missing = [k for k in key_types if k not in entities]
    if missing:
        raise EntityKeyError(missing[0], "missing")
    lengths = {len(entities[k]) for k in key_types}
    if len(lengths) > 1:
        raise EntityKeyError(next(iter(key_types)), "entity key lists differ in length")
    n = lengths.pop() if lengths else _request_rows(plan, entities)
    for name in sorted(entities):
        if name not in key_types and len(entities[name]) != n:
            raise EntityKeyError(name, f"has {len(entities[name])} values for {n} entity rows")
    if n > max_rows:
        raise RequestTooLargeError("entity rows", max_rows)
    for key, ktype in key_types.items():
        for i, value in enumerate(entities[key]):
            check_key_value(key, ktype, i, value)
    return n


def _request_rows(plan: ServicePlan, entities: Mapping[str, Sequence[Any]]) -> int:
    """Rows of a request with no join key at all (on-demand features over request data)."""
    lengths = {len(entities[f.name]) for f in plan.request_fields if f.name in entities}
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
    plan: ServicePlan, request_data: Mapping[str, Sequence[Any]], rows: int
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
        values = list(request_data[spec.name])
        if len(values) != rows:
            raise RequestDataError(spec.name, f"{len(values)} values for {rows} entity rows")
        for i, v in enumerate(values):
            check_request_value(spec, i, v)
        try:
            out[spec.name] = [canonical(v, spec.type) for v in values]
        except (TypeError, ValueError) as exc:
            raise RequestDataError(spec.name, f"not of type {spec.type}: {exc}") from None
    return out
