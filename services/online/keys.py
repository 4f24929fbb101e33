"""Feast's Redis layout of online rows: entity keys, hash keys and hash field names.

A row of a feature view lives in one Redis hash whose key is Feast's serialized entity key
(``serialize_entity_key``, version 3) followed by the project name; each feature is a field
named by the murmur3 hash of ``<view>:<feature>``, and the row's event time is the field
``_ts:<view>``. The bytes are what Feast's own functions produce, by struct packing, so
Feast's ``get_online_features`` finds what we write; ``tests/unit/test_codec*.py`` prove it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

import mmh3

from services.contracts.types import FieldType

if TYPE_CHECKING:
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto

ENTITY_KEY_SERIALIZATION_VERSION = 3

KeyColumns = Sequence[tuple[str, FieldType]]
"""The stored join keys of a view, (name, type) in the view's order; Int32, Int64 or String."""

# Feast's v3 entity key: <u32 count>, per key (sorted by name when several) <u32 STRING=2>
# <u32 len> name, then per value <u32 value type> <u32 len> value bytes (little-endian ints).
_KEY_TYPE_CODE = {"String": 2, "Int32": 3, "Int64": 4}
_U32, _U32X2 = struct.Struct("<I"), struct.Struct("<II")
_INT64, _INT32 = struct.Struct("<q"), struct.Struct("<i")
_INT64_HEAD = _U32X2.pack(4, 8)
_INT32_HEAD = _U32X2.pack(3, 4)


def entity_key(keys: KeyColumns, values: Sequence[Any]) -> EntityKeyProto:
    """Feast's entity key proto of one row's join key values (in the order of ``keys``)."""
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
    from feast.protos.feast.types.Value_pb2 import Value as ValueProto

    protos = []
    for (_, ftype), value in zip(keys, values, strict=True):
        field = {"Int32": "int32_val", "Int64": "int64_val", "String": "string_val"}.get(ftype.name)
        if field is None:
            raise ValueError(f"join key type {ftype} is not supported (Int32, Int64 or String)")
        protos.append(ValueProto(**{field: value}))
    return EntityKeyProto(join_keys=[name for name, _ in keys], entity_values=protos)


@cache
def key_layout(keys: tuple[tuple[str, FieldType], ...]) -> tuple[bytes, tuple[int, ...]]:
    """The constant head of the serialized key (count and names) and the value order.

    Feast sorts several join keys by name (one key is taken as it is); the values follow
    in that order.
    """
    for name, ftype in keys:
        if ftype.name not in _KEY_TYPE_CODE:
            raise ValueError(f"join key {name!r} of type {ftype}: Int32, Int64 or String only")
    if len({name for name, _ in keys}) != len(keys):
        raise ValueError(f"duplicate join keys in {[name for name, _ in keys]}")
    order = tuple(sorted(range(len(keys)), key=lambda i: keys[i][0]))
    head = [_U32.pack(len(keys))]
    for i in order:
        encoded = keys[i][0].encode("utf-8")
        head += [_U32X2.pack(2, len(encoded)), encoded]
    return b"".join(head), order


def key_value_bytes(ftype: FieldType, value: Any) -> bytes:
    """One join key value as Feast serializes it: <u32 type> <u32 len> bytes."""
    if ftype.name == "Int64":
        return _INT64_HEAD + _INT64.pack(value)
    if ftype.name == "Int32":
        return _INT32_HEAD + _INT32.pack(value)
    if not isinstance(value, str):
        raise TypeError(f"String join key value must be str, got {type(value).__name__}")
    data = value.encode("utf-8")
    return _U32X2.pack(2, len(data)) + data


def serialized_key(keys: KeyColumns, values: Sequence[Any]) -> bytes:
    """``serialize_entity_key(entity_key(keys, values), 3)``, by struct packing."""
    if len(values) != len(keys):
        raise ValueError(f"{len(keys)} join keys but {len(values)} values")
    head, order = key_layout(tuple(keys))
    return head + b"".join(key_value_bytes(keys[i][1], values[i]) for i in order)


@cache
def entity_key_prefix(join_key: str) -> bytes:
    """What Feast's serialized single-Int64 entity key holds before the value's 8 bytes."""
    name = join_key.encode("utf-8")
    return _U32.pack(1) + _U32X2.pack(2, len(name)) + name + _INT64_HEAD


def redis_key(project: str, keys: KeyColumns, values: Sequence[Any]) -> bytes:
    """Feast's Redis hash key: serialized entity key followed by the project name."""
    return serialized_key(keys, values) + project.encode("utf-8")


def redis_keys(project: str, keys: KeyColumns, rows: Sequence[Sequence[Any]]) -> list[bytes]:
    """:func:`redis_key` of many rows (each a sequence of values in the order of ``keys``)."""
    suffix = project.encode("utf-8")
    if len(keys) == 1 and keys[0][1].name == "Int64":
        prefix, pack = entity_key_prefix(keys[0][0]), _INT64.pack
        return [prefix + pack(value) + suffix for (value,) in rows]
    head, order = key_layout(tuple(keys))
    types = [keys[i][1] for i in order]
    out = []
    for row in rows:
        if len(row) != len(keys):
            raise ValueError(f"{len(keys)} join keys but {len(row)} values")
        parts = [key_value_bytes(t, row[i]) for t, i in zip(types, order, strict=True)]
        out.append(head + b"".join(parts) + suffix)
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware instant (exact, no float)."""
    return (moment.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)


def from_epoch_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def field_key(view: str, feature: str) -> bytes:
    """Feast's hash field name of a feature: murmur3_32 of ``view:feature``, little-endian."""
    return _U32.pack(mmh3.hash(f"{view}:{feature}", signed=False))


def ts_key(view: str) -> str:
    return f"_ts:{view}"


# Ends with the project name, as Feast's own keys do, so a project's keys are found together.
MARKER_PREFIX = b"_skewless_online_state:"


def marker_key(project: str) -> bytes:
    """The Redis hash holding ``project``'s per-view marker tokens (see ``online.state``)."""
    return MARKER_PREFIX + project.encode()
