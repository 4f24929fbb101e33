"""Encoding between Arrow/Python values and Feast's online format.

Keys, field names and value protos are produced with Feast's own functions, so
Feast's ``get_online_features`` reads exactly what we write and vice versa.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pyarrow as pa
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import _mmh3
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values
from feast.value_type import ValueType
from google.protobuf.timestamp_pb2 import Timestamp

from services.contracts.base import ColumnSpec, Kind

ENTITY_KEY_SERIALIZATION_VERSION = 3

VALUE_TYPE: dict[Kind, ValueType] = {
    "int": ValueType.INT64,
    "float": ValueType.DOUBLE,
    "string": ValueType.STRING,
    "bool": ValueType.BOOL,
    "timestamp": ValueType.UNIX_TIMESTAMP,
}


def entity_key(join_key: str, value: int) -> EntityKeyProto:
    return EntityKeyProto(join_keys=[join_key], entity_values=[ValueProto(int64_val=value)])


_INT64 = struct.Struct("<q")
_PROBE = 0x0102030405060708


@cache
def entity_key_prefix(join_key: str) -> bytes:
    """What Feast's serialized single-int64 entity key holds before the value's 8 bytes.

    Derived from Feast's own ``serialize_entity_key`` once per join key, so the hot paths
    can build keys by concatenation; a layout change in Feast fails loudly here.
    """
    probe: bytes = serialize_entity_key(
        entity_key(join_key, _PROBE),
        entity_key_serialization_version=ENTITY_KEY_SERIALIZATION_VERSION,
    )
    if not probe.endswith(_INT64.pack(_PROBE)):
        raise RuntimeError("Feast's entity key layout changed: int64 value is not last")
    return probe[:-8]


def redis_key(project: str, join_key: str, value: int) -> bytes:
    """Feast's Redis hash key: serialized entity key followed by the project name."""
    return entity_key_prefix(join_key) + _INT64.pack(value) + project.encode("utf-8")


def field_key(view: str, feature: str) -> bytes:
    return bytes(_mmh3(f"{view}:{feature}"))


def ts_key(view: str) -> str:
    return f"_ts:{view}"


def encode_column(column: pa.Array | pa.ChunkedArray, spec: ColumnSpec) -> list[ValueProto]:
    """Encode one Arrow column into value protos (nulls become empty protos)."""
    values = column.to_pylist()
    present = [v for v in values if v is not None]
    encoded = iter(python_values_to_proto_values(present, VALUE_TYPE[spec.kind]) if present else [])
    return [next(encoded) if v is not None else ValueProto() for v in values]


# Fast paths for the four scalar kinds the contracts use. They produce and read exactly the
# bytes protobuf does for ``feast.types.Value`` (tests/unit/test_codec.py proves it against
# Feast's own encoder over generated values); anything else falls back to the proto classes.
TAG_STRING, TAG_INT64, TAG_DOUBLE, TAG_BOOL = 0x12, 0x20, 0x29, 0x38
_DOUBLE = struct.Struct("<d")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 is sent as its 64-bit two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_varint(raw: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = raw[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return result, pos
        shift += 7


def encode_values(values: list[Any], kind: Kind) -> list[bytes]:
    """Serialized ``Value`` protos for plain Python values of one kind (None -> b"")."""
    if kind == "float":
        # NaN is null, as in Feast's encoder (v != v only for NaN).
        return [b"" if v is None or v != v else b"\x29" + _DOUBLE.pack(v) for v in values]
    if kind == "int":
        return [b"" if v is None else b"\x20" + _varint(v) for v in values]
    if kind == "bool":
        return [b"" if v is None else (b"\x38\x01" if v else b"\x38\x00") for v in values]
    if kind == "string":
        out = []
        for v in values:
            if v is None:
                out.append(b"")
            else:
                data = v.encode("utf-8")
                out.append(b"\x12" + _varint(len(data)) + data)
        return out
    present = [v for v in values if v is not None]
    protos = iter(python_values_to_proto_values(present, VALUE_TYPE[kind]) if present else [])
    return [next(protos).SerializeToString() if v is not None else b"" for v in values]


def decode_fast(raw: bytes | None) -> Any:
    """Decode a serialized ``Value`` proto; the common scalar kinds without protobuf."""
    if not raw:
        return None
    tag = raw[0]
    if tag == TAG_DOUBLE and len(raw) == 9:
        return _DOUBLE.unpack_from(raw, 1)[0]
    if tag == TAG_INT64:
        value, end = _read_varint(raw, 1)
        if end == len(raw):
            return value - (1 << 64) if value >= 1 << 63 else value
    if tag == TAG_BOOL and len(raw) == 2:
        return raw[1] == 1
    if tag == TAG_STRING:
        length, start = _read_varint(raw, 1)
        if start + length == len(raw):
            return raw[start:].decode("utf-8")
    return decode_raw(raw)


def decode_column(raws: list[bytes | None], kind: str) -> list[Any]:
    """:func:`decode_fast` over one feature's values, with the kind's common case inlined."""
    if kind == "float":
        unpack = _DOUBLE.unpack_from
        return [
            unpack(r, 1)[0] if r and len(r) == 9 and r[0] == TAG_DOUBLE else decode_fast(r)
            for r in raws
        ]
    if kind == "int":
        return [_small_int(r) for r in raws]
    return [decode_fast(r) for r in raws]


def _small_int(raw: bytes | None) -> Any:
    """An int64 value of one to three varint bytes (0 .. 2**21 - 1) without the loop."""
    if raw and raw[0] == TAG_INT64:
        n = len(raw)
        if n == 2 and raw[1] < 0x80:
            return raw[1]
        if n == 3 and raw[1] & 0x80 and raw[2] < 0x80:
            return (raw[1] & 0x7F) | (raw[2] << 7)
        if n == 4 and raw[1] & 0x80 and raw[2] & 0x80 and raw[3] < 0x80:
            return (raw[1] & 0x7F) | ((raw[2] & 0x7F) << 7) | (raw[3] << 14)
    return decode_fast(raw)


def encode_timestamp(moment: datetime) -> bytes:
    ts = Timestamp()
    ts.FromDatetime(moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC))
    raw: bytes = ts.SerializeToString()
    return raw


def decode_timestamp(raw: bytes | None) -> datetime | None:
    """A serialized ``google.protobuf.Timestamp`` as an aware UTC datetime (as ``ToDatetime``)."""
    if not raw:
        return None
    seconds = nanos = pos = 0
    while pos < len(raw):
        tag = raw[pos]
        if tag == 0x08:
            seconds, pos = _read_varint(raw, pos + 1)
        elif tag == 0x10:
            nanos, pos = _read_varint(raw, pos + 1)
        else:
            return _decode_timestamp_proto(raw)
    if seconds >= 1 << 63:
        seconds -= 1 << 64
    if nanos >= 1_000_000_000:
        return _decode_timestamp_proto(raw)
    return _EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def _decode_timestamp_proto(raw: bytes) -> datetime:
    ts = Timestamp()
    ts.ParseFromString(raw)
    moment: datetime = ts.ToDatetime(tzinfo=UTC)
    return moment


def decode_value(proto: ValueProto | None) -> Any:
    """A stored value proto as a plain Python value (None for null)."""
    if proto is None or proto.WhichOneof("val") is None:
        return None
    return feast_value_type_to_python_type(proto)


def decode_raw(raw: bytes | None) -> Any:
    if raw is None:
        return None
    proto = ValueProto()
    proto.ParseFromString(raw)
    return decode_value(proto)
