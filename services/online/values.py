"""The canonical Python form of every ``FieldType`` value, and what the online store returns.

Every value has one canonical Python form, :func:`python_value`; decoding what
:mod:`services.online.codec` encoded gives it back, except where Feast's online format itself
loses information (see :func:`online_value`, which states exactly what the online store
returns). :func:`feast_input` is the form handed to Feast's encoder.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from services.contracts.types import FieldType

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZEROS: dict[str, Any] = {
    "Int32": 0, "Int64": 0, "Float32": 0.0, "Float64": 0.0,
    "String": "", "Bytes": b"", "Bool": False, "UnixTimestamp": None,
}  # fmt: skip


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    if isinstance(value, np.datetime64):
        return bool(np.isnat(value))
    return False


def _instant(value: Any) -> datetime:
    """An instant as an aware UTC datetime of microsecond precision (floored)."""
    if isinstance(value, str):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime(warn=False)  # drops the nanoseconds (a floor)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, np.datetime64):
        return _EPOCH + timedelta(microseconds=int(value.astype("datetime64[us]").astype(np.int64)))
    return _EPOCH + timedelta(seconds=int(value))  # a number: epoch seconds, as Feast reads it


def _scalar(value: Any, ftype: FieldType, *, nan_is_null: bool = True) -> Any:
    if isinstance(value, pa.Scalar):
        value = value.as_py()
    if (
        not nan_is_null
        and ftype.is_float
        and isinstance(value, float | np.floating)
        and value != value
    ):
        return float(value)  # NaN kept as it is (with its payload), as Feast writes it
    if _is_null(value):
        return None
    name = ftype.name
    if name in ("Int32", "Int64"):
        return int(value)
    if name == "Float64":
        return float(value)
    if name == "Float32":
        with np.errstate(over="ignore"):  # beyond float32: inf, as protobuf stores it
            return float(np.float32(value))
    if name == "String":
        return str(value)
    if name == "Bytes":
        return bytes(value)
    if name == "Bool":
        return bool(value)
    if name == "UnixTimestamp":
        return _instant(value)
    raise ValueError(f"{ftype} is not a scalar type")


def _elements(value: Any) -> list[Any]:
    """An array value as a list (numpy datetimes kept as ``np.datetime64``)."""
    if isinstance(value, np.ndarray):
        return list(value) if value.dtype.kind in "mM" else list(value.tolist())
    if isinstance(value, list | tuple):
        return list(value)
    raise TypeError(f"an array value must be a list, tuple or numpy array, not {type(value)}")


def _plain(value: Any) -> Any:
    """A JSON-like value with numpy scalars/arrays and tuples as Python scalars and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _map_leaves(value: dict[str, Any]) -> dict[str, Any]:
    """A map with NaN values as None (Feast writes a NaN map value as null)."""
    out: dict[str, Any] = {}
    for k, v in value.items():
        if isinstance(v, dict):
            out[k] = _map_leaves(v)
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            out[k] = [_map_leaves(m) if isinstance(m, dict) else m for m in v]
        else:
            out[k] = None if isinstance(v, float) and math.isnan(v) else v
    return out


def _document(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def python_value(value: Any, ftype: FieldType) -> Any:
    """The one canonical Python form of a value of ``ftype``, whatever its representation.

    None for null (None, pd.NA, NaT, NaN); int for Int32/Int64; float for Float32/Float64
    (Float32 rounded to float32); str; bytes; bool; aware UTC datetime (microseconds) for
    UnixTimestamp; a list of canonical elements (None for null ones) for an array; a dict for
    Map (parsed if JSON text, NaN values as None); the JSON value for Json (text is parsed,
    an object is read as ``json.loads(json.dumps(obj))``); a dict of the declared fields for
    Struct.
    """
    if isinstance(value, pa.Scalar):
        value = value.as_py()
    if not isinstance(value, list | tuple | dict | np.ndarray) and _is_null(value):
        return None
    if ftype.name == "Array":
        element = _element_type(ftype)
        return [_scalar(v, element) for v in _elements(value)]
    if ftype.name == "Map":
        parsed = _plain(_document(value))
        if not isinstance(parsed, dict):
            raise TypeError(f"a Map value must be a JSON object, got {type(parsed).__name__}")
        return _map_leaves(parsed)
    if ftype.name == "Json":
        return json.loads(value if isinstance(value, str | bytes) else json.dumps(_plain(value)))
    if ftype.name == "Struct":
        parsed = _document(value)
        if not isinstance(parsed, dict):
            raise TypeError(f"a Struct value must be a dict, got {type(parsed).__name__}")
        return {n: _scalar(parsed.get(n), t) for n, t in ftype.fields}
    return _scalar(value, ftype)


def _whole_seconds(moment: datetime | None) -> datetime | None:
    """An instant as Feast keeps it online: ``int(moment.timestamp())`` seconds."""
    if moment is None:
        return None
    return datetime.fromtimestamp(int(moment.timestamp()), tz=UTC)


def canonical(value: Any, ftype: FieldType) -> Any:
    """:func:`python_value` of a value already in its Python form (decoded, or computed).

    The two differ for Json only: ``python_value`` reads a str as JSON text (how Json is
    stored offline), while a decoded Json value that is a JSON string *is* a str, which must
    not be parsed a second time.
    """
    if ftype.name == "Json":
        return None if _is_null(value) else value
    return python_value(value, ftype)


def online_value(value: Any, ftype: FieldType) -> Any:
    """What Feast's online store gives back for ``value``.

    That is :func:`python_value`, except that

    - instants (UnixTimestamp, in arrays and struct fields too) keep whole seconds only,
      truncated toward zero as ``int(datetime.timestamp())`` does;
    - a null element inside an array comes back as its type's zero ("", b"", 0, 0.0,
      False; an instant stays None), as protobuf repeated fields hold no nulls;
    - a NaN element inside a float array stays NaN (python_value calls it None).
    """
    if isinstance(value, pa.Scalar):
        value = value.as_py()
    if ftype.name == "Array":
        if not isinstance(value, list | tuple | np.ndarray) and _is_null(value):
            return None
        element = _element_type(ftype)
        out = [_scalar(v, element, nan_is_null=False) for v in _elements(value)]
        if element.name == "UnixTimestamp":
            return [_whole_seconds(v) for v in out]
        return [_ZEROS[element.name] if v is None else v for v in out]
    canonical = python_value(value, ftype)
    if ftype.name == "UnixTimestamp":
        return _whole_seconds(canonical)
    if ftype.name == "Struct" and canonical is not None:
        return {
            n: _whole_seconds(canonical[n]) if t.name == "UnixTimestamp" else canonical[n]
            for n, t in ftype.fields
        }
    return canonical


def _element_type(ftype: FieldType) -> FieldType:
    if ftype.element is None:  # pragma: no cover - refused by FieldType
        raise ValueError("Array without element type")
    return ftype.element


def feast_input(value: Any, ftype: FieldType) -> Any:
    """A value as handed to Feast's encoder.

    Canonical, but arrays keep NaN elements and Json text stays the text Feast stores verbatim.
    """
    if isinstance(value, pa.Scalar):
        value = value.as_py()
    if ftype.name == "Array":
        if not isinstance(value, list | tuple | np.ndarray) and _is_null(value):
            return None
        element = _element_type(ftype)
        return [_scalar(v, element, nan_is_null=False) for v in _elements(value)]
    if ftype.name == "Json":
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        return value if isinstance(value, str) or _is_null(value) else _plain(value)
    return python_value(value, ftype)
