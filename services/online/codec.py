"""Encoding between Arrow/Python values and Feast's online value protos, for every ``FieldType``.

Value protos are byte-for-byte what Feast's own ``python_values_to_proto_values`` produces,
so Feast's ``get_online_features`` reads exactly what we write and vice versa. The common
scalar types are encoded and decoded by hand (varints, little-endian floats,
length-delimited bytes); everything else is encoded through Feast. Decoding never imports
Feast (:mod:`services.online.value_proto`), so a read can be served without it.
``tests/unit/test_codec*.py`` prove the equality. Values are first brought to their canonical form
(:mod:`services.online.values`); the Redis keys they are stored under are
:mod:`services.online.keys`.

Deliberate differences from Feast's encoder, all read back by Feast as the value we mean:
``b""`` is always written as the bytes value (Feast writes it as null when its whole batch
holds no non-empty bytes); a Struct is written with every declared field, in declared
order, each as its canonical value (Feast writes the dict it is given, in its order), and
a ``b""`` field is written as ``bytes_val`` (Feast's encoder refuses it). Map values Feast
cannot type (empty or mixed lists) fail as they fail in Feast.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from google.protobuf.timestamp_pb2 import Timestamp

from services.contracts.types import FieldType
from services.online.value_proto import (
    NULL_TIMESTAMP,
    parse_value,
    python_value_of,
    value_class,
)
from services.online.values import feast_input, python_value

if TYPE_CHECKING:
    from feast.protos.feast.types.Value_pb2 import Value as ValueProto

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Fast paths for the common scalar types. They produce and read exactly the bytes protobuf
# does for ``feast.types.Value`` (field number << 3 | wire type); anything else goes through
# Feast's encoder and the proto classes.
TAG_BYTES, TAG_STRING, TAG_INT32, TAG_INT64 = 0x0A, 0x12, 0x18, 0x20
TAG_DOUBLE, TAG_FLOAT, TAG_BOOL, TAG_TIMESTAMP = 0x29, 0x35, 0x38, 0x40
# Packed numeric lists: Value.<x>_list_val (length-delimited) holding <X>List{val: packed}.
LIST_TAGS = {"Int32": b"\x6a", "Int64": b"\x72", "Float64": b"\x7a", "Float32": b"\x82\x01"}
TAG_PACKED = 0x0A  # <X>List.val, field 1, length-delimited
_DOUBLE, _FLOAT = struct.Struct("<d"), struct.Struct("<f")
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def _varint(value: int) -> bytes:
    value = int(value) & ((1 << 64) - 1)  # negative ints are sent as 64-bit two's complement
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


def _int32(value: Any) -> bytes:
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise ValueError(f"Value out of range for Int32: {value}")
    return b"\x18" + _varint(value)


def _float32(value: Any) -> bytes:
    try:
        return b"\x35" + _FLOAT.pack(value)
    except OverflowError:  # protobuf stores a double beyond float32 as +-inf
        return b"\x35" + _FLOAT.pack(math.copysign(math.inf, value))


def _length_delimited(tag: bytes, data: bytes) -> bytes:
    return tag + _varint(len(data)) + data


def _encode_fast(values: Sequence[Any], name: str) -> list[bytes] | None:
    """The hand-written encodings (None: not a fast type). NaN is null, as in Feast."""
    if name == "Float64":
        pack = _DOUBLE.pack
        return [b"" if v is None or v != v else b"\x29" + pack(v) for v in values]
    if name == "Float32":
        return [b"" if v is None or v != v else _float32(v) for v in values]
    if name == "Int64":
        return [b"" if v is None else b"\x20" + _varint(v) for v in values]
    if name == "Int32":
        return [b"" if v is None else _int32(v) for v in values]
    if name == "Bool":
        return [b"" if v is None or v != v else (b"\x38\x01" if v else b"\x38\x00") for v in values]
    if name == "String":
        return [b"" if v is None else _length_delimited(b"\x12", v.encode()) for v in values]
    if name == "Bytes":
        # b"" is written as the value b"" (Feast writes it as null when a batch holds no
        # non-empty bytes at all; it reads both back, ours as b"").
        return [
            b"" if v is None else _length_delimited(b"\x0a", v)
            for v in (b if b is None or type(b) is bytes else bytes(b) for b in values)
        ]
    return None


def _feast_protos(values: Sequence[Any], ftype: FieldType) -> list[ValueProto | None]:
    """Feast's value protos of ``values`` (None where null), through Feast's encoder."""
    from feast.type_map import python_values_to_proto_values

    inputs = [feast_input(v, ftype) for v in values]
    present = [v for v in inputs if v is not None]
    empty_bytes: list[list[str]] = []
    if ftype.name == "Struct":  # Feast cannot infer a type for b"": set those fields after
        empty_bytes = [[n for n, v in s.items() if v == b""] for s in present]
        present = [{n: v for n, v in s.items() if v != b""} for s in present]
    protos = list(python_values_to_proto_values(present, ftype.value_type()) if present else [])
    for proto, names in zip(protos, empty_bytes, strict=False):
        for name in names:
            proto.struct_val.val[name].bytes_val = b""
    it = iter(protos)
    return [None if v is None else next(it) for v in inputs]


def encode_values(values: Sequence[Any], ftype: FieldType) -> list[bytes]:
    """Serialized ``Value`` protos of values of one type (null and NaN -> b"")."""
    if any(isinstance(v, pa.Scalar) for v in values):
        values = [v.as_py() if isinstance(v, pa.Scalar) else v for v in values]
    try:
        fast = _encode_fast(values, ftype.name)
    except (TypeError, AttributeError, ValueError, struct.error):
        # numpy/pandas representations: canonical Python values first (a value that is
        # invalid as such fails again here)
        fast = _encode_fast([python_value(v, ftype) for v in values], ftype.name)
    if fast is not None:
        return fast
    return [b"" if p is None else p.SerializeToString() for p in _feast_protos(values, ftype)]


def encode_column(column: pa.Array | pa.ChunkedArray, ftype: FieldType) -> list[ValueProto]:
    """Value protos of one Arrow column (nulls become empty protos), as :func:`encode_values`."""
    values = column.to_pylist()
    if ftype.name in ("Float64", "Float32", "Int64", "Int32", "Bool", "String", "Bytes"):
        return [parse_value(raw) for raw in encode_values(values, ftype)]
    return [value_class()() if p is None else p for p in _feast_protos(values, ftype)]


def decode_fast(raw: bytes | None) -> Any:
    """Decode a serialized ``Value`` proto; the common scalar types without protobuf."""
    if not raw:
        return None
    tag, size = raw[0], len(raw)
    if tag == TAG_DOUBLE and size == 9:
        return _DOUBLE.unpack_from(raw, 1)[0]
    if tag in (TAG_INT64, TAG_INT32):
        value, end = _read_varint(raw, 1)
        if end == size:
            return value - (1 << 64) if value >= 1 << 63 else value
    if tag == TAG_FLOAT and size == 5:
        return _FLOAT.unpack_from(raw, 1)[0]
    if tag == TAG_BOOL and size == 2:
        return raw[1] == 1
    if tag == TAG_TIMESTAMP:  # epoch seconds, read as Feast reads them
        value, end = _read_varint(raw, 1)
        if end == size:
            seconds = value - (1 << 64) if value >= 1 << 63 else value
            return None if seconds == NULL_TIMESTAMP else datetime.fromtimestamp(seconds, UTC)
    if tag in (TAG_STRING, TAG_BYTES):
        length, start = _read_varint(raw, 1)
        if start + length == size:
            return raw[start:].decode("utf-8") if tag == TAG_STRING else raw[start:]
    return decode_raw(raw)


def _packed(raw: bytes | None, tag: bytes, dtype: str, width: int) -> Any:
    """A packed FloatList/DoubleList read with NumPy, else :func:`decode_fast`."""
    if raw and raw.startswith(tag):
        pos = len(tag)
        length, pos = _read_varint(raw, pos)
        if pos + length == len(raw):
            if length == 0:
                return []
            if raw[pos] == TAG_PACKED:
                size, start = _read_varint(raw, pos + 1)
                if start + size == len(raw) and size % width == 0:
                    return np.frombuffer(raw, dtype=dtype, offset=start).tolist()
    return decode_fast(raw)


def decode_column(raws: Sequence[bytes | None], ftype: FieldType) -> list[Any]:
    """:func:`decode_fast` over one feature's values, with the type's common case inlined."""
    if ftype.name == "Float64":
        unpack = _DOUBLE.unpack_from
        return [
            unpack(r, 1)[0] if r and len(r) == 9 and r[0] == TAG_DOUBLE else decode_fast(r)
            for r in raws
        ]
    if ftype.name in ("Int64", "Int32"):
        return [_small_int(r) for r in raws]
    if ftype.name == "Array" and ftype.element is not None and ftype.element.is_float:
        tag = LIST_TAGS[ftype.element.name]
        dtype, width = ("<f4", 4) if ftype.element.name == "Float32" else ("<f8", 8)
        return [_packed(r, tag, dtype, width) for r in raws]
    if ftype.name == "Struct":
        return [_declared_order(decode_fast(r), ftype) for r in raws]
    if ftype.name == "Map":
        return [_sorted_keys(decode_fast(r)) for r in raws]
    return [decode_fast(r) for r in raws]


# A protobuf map comes back in the order of upb's hash table, whose seed differs from process
# to process: the same stored Map or Struct would print its keys in another order each run.
# A Struct is given its declared order, a Map its keys sorted (nested maps too).


def _declared_order(value: Any, ftype: FieldType) -> Any:
    if not isinstance(value, dict):
        return value
    names = [n for n, _ in ftype.fields if n in value]
    return {**{n: value[n] for n in names}, **_sorted_keys(value)}


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted_keys(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(v) for v in value]
    return value


def _small_int(raw: bytes | None) -> Any:
    """An Int64/Int32 value of one to three varint bytes (0 .. 2**21 - 1) without the loop."""
    if raw and (raw[0] == TAG_INT64 or raw[0] == TAG_INT32):
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
    return python_value_of(proto)


def decode_raw(raw: bytes | None) -> Any:
    if raw is None:
        return None
    return decode_value(parse_value(raw))
