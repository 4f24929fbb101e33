"""Field types: every type Feast 0.67 stores online, and what each maps to on every layer.

One ``FieldType`` per contract column. From it come the Feast type of the field, the
Arrow type a dataset version stores it in, the pandas dtype a typed frame holds it in, and
the Feast ``ValueType`` its online values are encoded with, so no layer guesses.

    scalars   Int32 Int64 Float32 Float64 String Bytes Bool UnixTimestamp
    arrays    Array(<scalar>) with an optional fixed length (embeddings)
    documents Map (str -> any JSON value), Json (any JSON value), Struct({name: scalar, ...})

Map and Json are stored offline as JSON text (their values are dynamic, Arrow needs one
type per column) and read back as Python objects on both paths; a Struct is an Arrow struct.
Keys (entity join keys) are Int32, Int64 or String.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from services.errors import ContractError

if TYPE_CHECKING:
    from feast.value_type import ValueType

SCALARS = (
    "Int32",
    "Int64",
    "Float32",
    "Float64",
    "String",
    "Bytes",
    "Bool",
    "UnixTimestamp",
)
DOCUMENTS = ("Map", "Json")
KEY_TYPES = ("Int32", "Int64", "String")

_ARROW_SCALAR: dict[str, pa.DataType] = {
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "Float32": pa.float32(),
    "Float64": pa.float64(),
    "String": pa.string(),
    "Bytes": pa.binary(),
    "Bool": pa.bool_(),
    "UnixTimestamp": pa.timestamp("us", tz="UTC"),
    "Map": pa.string(),
    "Json": pa.string(),
}
# Feast's names of each type: the ``feast.types`` attribute and the ``ValueType`` members
# (scalar, list). Feast itself is imported only by the functions that build its objects, so a
# process that reads types and values (serving from a plan) never imports Feast.
_FEAST_SCALAR = {name: name for name in SCALARS + DOCUMENTS}
_VALUE_TYPE = {
    "Int32": "INT32",
    "Int64": "INT64",
    "Float32": "FLOAT",
    "Float64": "DOUBLE",
    "String": "STRING",
    "Bytes": "BYTES",
    "Bool": "BOOL",
    "UnixTimestamp": "UNIX_TIMESTAMP",
    "Map": "MAP",
    "Json": "JSON",
    "Struct": "STRUCT",
}
# pandas dtypes of a typed frame: (not nullable, nullable); None means object.
_PANDAS: dict[str, tuple[str, str]] = {
    "Int32": ("int32", "Int32"),
    "Int64": ("int64", "Int64"),
    "Float32": ("float32", "float32"),
    "Float64": ("float64", "float64"),
    "Bool": ("bool", "boolean"),
    "UnixTimestamp": ("datetime64[ns, UTC]", "datetime64[ns, UTC]"),
}
_PANDERA_DTYPES: dict[str, str] = {
    "int32": "Int32",
    "Int32": "Int32",
    "int64": "Int64",
    "Int64": "Int64",
    "float32": "Float32",
    "Float32": "Float32",
    "float64": "Float64",
    "Float64": "Float64",
    "str": "String",
    "string": "String",
    "bool": "Bool",
    "boolean": "Bool",
    "datetime64[ns, UTC]": "UnixTimestamp",
}


@dataclass(frozen=True)
class FieldType:
    """A column's type: a scalar, an ``Array`` of a scalar, ``Map``, ``Json`` or ``Struct``."""

    name: str
    element: FieldType | None = None  # Array only
    length: int | None = None  # Array only: a fixed length (an embedding's dimension)
    fields: tuple[tuple[str, FieldType], ...] = ()  # Struct only

    def __post_init__(self) -> None:
        if self.name == "Array":
            if self.element is None or self.element.name not in SCALARS:
                raise ContractError(f"Array of {self.element}: arrays hold one scalar type")
        elif self.name == "Struct":
            if not self.fields or any(t.name not in SCALARS for _, t in self.fields):
                raise ContractError("Struct needs at least one field, each of a scalar type")
        elif self.name not in SCALARS and self.name not in DOCUMENTS:
            raise ContractError(f"unsupported type {self.name!r}")

    def __str__(self) -> str:
        if self.name == "Array":
            return f"Array({self.element})"
        if self.name == "Struct":
            return "Struct({" + ", ".join(f"{n}: {t}" for n, t in self.fields) + "})"
        return self.name

    @property
    def is_array(self) -> bool:
        return self.name == "Array"

    @property
    def is_scalar(self) -> bool:
        return self.name in SCALARS

    @property
    def is_key(self) -> bool:
        return self.name in KEY_TYPES

    @property
    def is_integer(self) -> bool:
        return self.name in ("Int32", "Int64")

    @property
    def is_float(self) -> bool:
        return self.name in ("Float32", "Float64")

    @property
    def is_numeric(self) -> bool:
        return self.is_integer or self.is_float

    def feast(self) -> Any:
        """The Feast type (``feast.types``) of a field of this type."""
        from feast import types as ft

        if self.name == "Array":
            assert_element = self.element
            if assert_element is None:  # pragma: no cover - refused in __post_init__
                raise ContractError("Array without element")
            return ft.Array(getattr(ft, _FEAST_SCALAR[assert_element.name]))
        if self.name == "Struct":
            return ft.Struct({n: getattr(ft, _FEAST_SCALAR[t.name]) for n, t in self.fields})
        return getattr(ft, _FEAST_SCALAR[self.name])

    def arrow(self) -> pa.DataType:
        """The Arrow type a dataset version stores this column in."""
        if self.name == "Array" and self.element is not None:
            return pa.list_(self.element.arrow())
        if self.name == "Struct":
            return pa.struct([pa.field(n, t.arrow()) for n, t in self.fields])
        return _ARROW_SCALAR[self.name]

    def value_type(self) -> ValueType:
        """The Feast ``ValueType`` its online values are encoded with."""
        from feast.value_type import ValueType

        if self.name == "Array" and self.element is not None:
            return ValueType[f"{_VALUE_TYPE[self.element.name]}_LIST"]
        return ValueType[_VALUE_TYPE[self.name]]

    def pandas_dtype(self, nullable: bool) -> str:
        """The pandas dtype of a column of this type in a typed frame (``object`` if none)."""
        pair = _PANDAS.get(self.name)
        if pair is None:
            return "object"
        return pair[1] if nullable else pair[0]


def scalar(name: str) -> FieldType:
    return FieldType(name)


INT32, INT64 = FieldType("Int32"), FieldType("Int64")
FLOAT32, FLOAT64 = FieldType("Float32"), FieldType("Float64")
STRING, BYTES, BOOL = FieldType("String"), FieldType("Bytes"), FieldType("Bool")
TIMESTAMP = FieldType("UnixTimestamp")

_ARRAY = re.compile(r"^Array\((\w+)\)$")
_STRUCT = re.compile(r"^Struct\(\{(.*)\}\)$")


def parse_type(text: str, *, length: int | None = None) -> FieldType:
    """``"Array(Float32)"``, ``"Struct({a: Int64, b: String})"``, ``"Int32"`` ... as a type."""
    text = text.strip()
    match = _ARRAY.match(text)
    if match:
        return FieldType("Array", element=parse_type(match.group(1)), length=length)
    match = _STRUCT.match(text)
    if match:
        parts = [p.split(":", 1) for p in match.group(1).split(",") if p.strip()]
        if any(len(p) != 2 for p in parts):
            raise ContractError(f"cannot read struct type {text!r}")
        return FieldType("Struct", fields=tuple((n.strip(), parse_type(t)) for n, t in parts))
    if text not in SCALARS and text not in DOCUMENTS:
        raise ContractError(f"unsupported type {text!r}")
    return FieldType(text)


def from_feast(dtype: Any) -> FieldType:
    """The ``FieldType`` of a Feast type; ``ContractError`` for one Skewless does not store."""
    from feast import types as ft

    if isinstance(dtype, ft.Array):
        base = getattr(dtype.base_type, "name", str(dtype.base_type))
        return FieldType("Array", element=_from_feast_name(str(base)))
    if isinstance(dtype, ft.Struct):
        return FieldType(
            "Struct", fields=tuple((n, from_feast(t)) for n, t in dtype.fields.items())
        )
    return _from_feast_name(getattr(dtype, "name", str(dtype)))


_FEAST_NAMES = {
    "INT32": "Int32",
    "INT64": "Int64",
    "FLOAT32": "Float32",
    "FLOAT64": "Float64",
    "STRING": "String",
    "BYTES": "Bytes",
    "BOOL": "Bool",
    "UNIX_TIMESTAMP": "UnixTimestamp",
    "MAP": "Map",
    "JSON": "Json",
}


def _from_feast_name(name: str) -> FieldType:
    mapped = _FEAST_NAMES.get(name.upper())
    if mapped is None:
        raise ContractError(f"Feast type {name} is not supported by Skewless")
    return FieldType(mapped)


_KEY_VALUE_TYPES = {"INT32": INT32, "INT64": INT64, "STRING": STRING}


def from_value_type(value_type: ValueType) -> FieldType:
    """The type of an entity join key declared with a Feast ``ValueType``."""
    try:
        return _KEY_VALUE_TYPES[value_type.name]
    except KeyError:
        raise ContractError(
            f"join key type {value_type.name} is not supported (Int32, Int64 or String)"
        ) from None


def entity_key_type(entity: Any, view: Any) -> FieldType:
    """The type of ``entity``'s join key in ``view``, as Feast settles it.

    The entity's ``value_type``; for an entity declared without one (``feast init``'s template
    does so, and Feast infers the key's type from the source's data at apply), the view's
    entity column of that name: declared in its schema, set from the source's contract when
    the repository is loaded (``services.repository``), or inferred by Feast.
    """
    if entity.value_type.name != "UNKNOWN":
        return from_value_type(entity.value_type)
    for column in view.entity_columns:
        if column.name == entity.join_key:
            found = from_feast(column.dtype)
            if found not in _KEY_VALUE_TYPES.values():
                raise ContractError(
                    f"join key type {found} is not supported (Int32, Int64 or String)"
                )
            return found
    raise ContractError(
        f"join key {entity.join_key!r} has no type: the entity declares no value_type and "
        f"view {view.name!r} no {entity.join_key!r} field"
    )


def from_pandera_dtype(dtype: str) -> FieldType | None:
    """The scalar type a Pandera dtype names (None for ``object``: the metadata must say)."""
    name = _PANDERA_DTYPES.get(dtype)
    return None if name is None else FieldType(name)
