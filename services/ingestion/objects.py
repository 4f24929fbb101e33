"""Conform the columns pandas holds as objects: Bytes, arrays, Map, Json and Struct.

Each cell becomes its canonical stored form or fails with ``dtype(<type>)``: bytes for
Bytes; a list of Python scalars of the element type for an array (lists, tuples and
NumPy arrays are accepted; CSV text must be a JSON array); JSON text with sorted keys for
Map (a dict with text keys) and Json (any JSON value; a string cell is read as JSON text,
as Feast stores Json); a dict of the declared fields for a Struct. Nothing is guessed:
``1.5`` is not an Int32 element, ``True`` is not a number, a naive datetime is not an
instant. Value checks (length, element ranges) follow in the contract's Pandera schema.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from services.contracts.base import ColumnSpec
from services.contracts.types import FieldType

if TYPE_CHECKING:
    from services.ingestion.conform import Failures


class _NotOfTypeError(Exception):
    """A cell that is not a value of the column's type."""


_INT_BOUNDS = {"Int32": 2**31, "Int64": 2**63}


def scalar_value(value: Any, ftype: FieldType) -> Any:
    """One scalar of ``ftype`` from a Python/NumPy value, or ``_NotOfTypeError``."""
    if isinstance(value, np.generic):
        value = value.item()
    name = ftype.name
    if name in _INT_BOUNDS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _NotOfTypeError
        if not -_INT_BOUNDS[name] <= value < _INT_BOUNDS[name]:
            raise _NotOfTypeError
        return value
    if name in ("Float32", "Float64"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _NotOfTypeError
        return float(np.float32(value)) if name == "Float32" else float(value)
    if name == "String":
        if not isinstance(value, str):
            raise _NotOfTypeError
        return value
    if name == "Bool":
        if not isinstance(value, bool):
            raise _NotOfTypeError
        return value
    if name == "Bytes":
        if isinstance(value, bytes | bytearray | memoryview):
            return bytes(value)
        raise _NotOfTypeError
    if name == "UnixTimestamp":
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        # Aware, and whole seconds: Feast keeps timestamps online as seconds.
        if not isinstance(value, datetime) or value.tzinfo is None or value.microsecond:
            raise _NotOfTypeError
        return value.astimezone(UTC)
    raise _NotOfTypeError


def _json_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise _NotOfTypeError from None
    return value


_NUMPY_KINDS = {
    "Float32": ("f", "i", "u"),
    "Float64": ("f", "i", "u"),
    "Int32": ("i", "u"),
    "Int64": ("i", "u"),
    "Bool": ("b",),
}


def _numpy_array(value: np.ndarray, element: FieldType) -> list[Any] | None:
    """A numeric NumPy array converted in one step (an embedding is not 64 Python calls)."""
    kinds = _NUMPY_KINDS.get(element.name)
    if kinds is None or value.ndim != 1 or value.dtype.kind not in kinds:
        return None
    if element.name == "Float32":
        return list(value.astype(np.float32).tolist())
    if element.name == "Float64":
        return list(value.astype(np.float64).tolist())
    if element.is_integer and len(value):
        bound = _INT_BOUNDS[element.name]
        if int(value.min()) < -bound or int(value.max()) >= bound:
            raise _NotOfTypeError
    return list(value.tolist())


def _array(value: Any, ftype: FieldType) -> list[Any]:
    if isinstance(value, str):
        value = _json_text(value)
    if isinstance(value, np.ndarray):
        if ftype.element is not None:
            converted = _numpy_array(value, ftype.element)
            if converted is not None:
                return converted
        value = value.tolist()
    if not isinstance(value, list | tuple):
        raise _NotOfTypeError
    element = ftype.element
    if element is None:  # pragma: no cover - FieldType refuses it
        raise _NotOfTypeError
    return [scalar_value(v, element) for v in value]


def _canonical_json(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        raise _NotOfTypeError from None


def _map(value: Any) -> str:
    value = _json_text(value)
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise _NotOfTypeError
    return _canonical_json(value)


def _struct(value: Any, ftype: FieldType) -> dict[str, Any]:
    value = _json_text(value)
    if not isinstance(value, dict):
        raise _NotOfTypeError
    types = dict(ftype.fields)
    if set(value) - set(types):
        raise _NotOfTypeError
    return {
        n: None if value.get(n) is None else scalar_value(value[n], t) for n, t in types.items()
    }


def _bytes_cell(value: Any) -> bytes:
    if isinstance(value, str):  # CSV text: base64
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _NotOfTypeError from None
    return bytes(scalar_value(value, FieldType("Bytes")))


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def convert_cell(value: Any, ftype: FieldType) -> Any:
    """The canonical stored form of one non-null cell, or ``_NotOfTypeError``."""
    name = ftype.name
    if name == "Array":
        return _array(value, ftype)
    if name == "Map":
        return _map(value)
    if name == "Json":
        return _canonical_json(_json_text(value))
    if name == "Struct":
        return _struct(value, ftype)
    if name == "Bytes":
        return _bytes_cell(value)
    return scalar_value(value, ftype)


def conform_objects(raw: pd.Series, spec: ColumnSpec, failures: Failures) -> pd.Series:
    """Every cell of an object-typed column in its canonical form; failures recorded."""
    out: list[Any] = []
    bad: list[int] = []
    for i, value in enumerate(raw.tolist()):
        if _is_null(value):
            out.append(None)
            continue
        try:
            out.append(convert_cell(value, spec.type))
        except _NotOfTypeError:
            bad.append(i)
            out.append(None)
    if bad:
        rows = np.array(bad, dtype=np.int64)
        failures.add(rows, f"dtype({spec.kind})", spec.name, raw.iloc[rows].reset_index(drop=True))
    return pd.Series(out, index=raw.index, dtype=object)
