"""Bulk online writes: Arrow columns to Feast's value bytes and raw Redis ``HSET`` commands.

Materialization writes ~10^5 hashes of ~25 fields each; encoding them one Python value at a
time (and packing each command through redis-py) costs far more than Redis itself. Here every
step is a vectorized NumPy/Arrow kernel: the varint, double and string encodings of
``feast.types.Value``, the ``google.protobuf.Timestamp`` of the event time, and the RESP framing
of the whole ``HSET`` command. The bytes equal what :mod:`services.online.codec` produces one
value at a time (``tests/unit/test_columnar.py`` proves it), which Feast reads as its own.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from services.contracts.types import FieldType
from services.online.codec import (
    LIST_TAGS,
    TAG_BOOL,
    TAG_BYTES,
    TAG_DOUBLE,
    TAG_FLOAT,
    TAG_INT32,
    TAG_INT64,
    TAG_PACKED,
    TAG_STRING,
    encode_values,
)
from services.online.keys import KeyColumns, entity_key_prefix, key_layout

_EMPTY = pa.scalar(b"", pa.binary())
_CRLF = pa.scalar(b"\r\n", pa.binary())
_DOLLAR = pa.scalar(b"$", pa.binary())
_TS_SECONDS, _TS_NANOS = 0x08, 0x10  # google.protobuf.Timestamp fields 1 and 2 (varint)
_MAX_VARINT = 10


def _rows_to_binary(matrix: np.ndarray, lengths: np.ndarray) -> pa.BinaryArray:
    """Row ``i`` of ``matrix`` cut to ``lengths[i]`` bytes, as one Arrow binary array."""
    n, width = matrix.shape
    keep = np.arange(width) < lengths[:, None]
    data = np.ascontiguousarray(matrix[keep])  # row-major, so rows stay in order
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.BinaryArray.from_buffers(
        pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


Rows = tuple[np.ndarray, np.ndarray]  # a (n, width) uint8 matrix and each row's used length


def _tagged_varints(tag: int | bytes, values: np.ndarray, present: np.ndarray) -> Rows:
    """``tag`` + protobuf varint of each int64 (two's complement), or nothing where absent."""
    head = bytes([tag]) if isinstance(tag, int) else tag
    unsigned = values.astype(np.int64, copy=False).view(np.uint64)
    n, t = len(unsigned), len(head)
    size = np.ones(n, dtype=np.int64)
    for k in range(1, _MAX_VARINT):
        size += (unsigned >> np.uint64(7 * k)) != 0
    matrix = np.zeros((n, t + _MAX_VARINT), dtype=np.uint8)
    matrix[:, :t] = np.frombuffer(head, dtype=np.uint8)
    for k in range(_MAX_VARINT):
        group = ((unsigned >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        matrix[:, t + k] = group | ((k < size - 1).astype(np.uint8) << 7)
    return matrix, np.where(present, size + t, 0)


def _framed(rows: Rows) -> pa.BinaryArray:
    """Each row as a RESP bulk string: length header, bytes, CRLF (rows of < 100 bytes)."""
    matrix, lengths = rows
    n, width = matrix.shape
    out = np.empty((n, 5 + width + 2), dtype=np.uint8)
    out[:, 0] = ord("$")
    tens, ones = np.divmod(lengths, 10)
    one, two = lengths < 10, lengths >= 10
    out[one, 1], out[one, 2], out[one, 3] = 48 + ones[one], 13, 10
    out[one, 4 : 4 + width] = matrix[one]
    out[two, 1], out[two, 2], out[two, 3], out[two, 4] = 48 + tens[two], 48 + ones[two], 13, 10
    out[two, 5 : 5 + width] = matrix[two]
    end = np.where(two, 5, 4) + lengths
    index = np.arange(n)
    out[index, end], out[index, end + 1] = 13, 10
    return _rows_to_binary(out, end + 2)


def _filled(column: pa.Array, fill: object, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """The column as a NumPy array (nulls replaced by ``fill``) and its validity mask."""
    if column.null_count == 0:
        present = np.ones(len(column), dtype=bool)
    else:
        present = column.is_valid().to_numpy(zero_copy_only=False)
        column = pc.fill_null(column, fill)
    return column.to_numpy(zero_copy_only=False).astype(dtype, copy=False), present


def _float64s(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A numeric column as float64 and its presence (null and NaN are absent)."""
    values, present = _filled(column.cast(pa.float64()), 0.0, np.float64)
    return values, present & ~np.isnan(values)


def _scalar_rows(column: pa.Array, name: str) -> Rows | None:
    """The fixed-width and varint scalar encodings as rows; None for other types."""
    if name in ("Float64", "Float32"):
        values, present = _float64s(column)
        width = 8 if name == "Float64" else 4
        matrix = np.empty((len(values), 1 + width), dtype=np.uint8)
        matrix[:, 0] = TAG_DOUBLE if name == "Float64" else TAG_FLOAT
        with np.errstate(over="ignore"):  # beyond float32: inf, as protobuf stores it
            packed = values.astype("<f8" if width == 8 else "<f4")
        matrix[:, 1:] = packed.view(np.uint8).reshape(-1, width)
        return matrix, np.where(present, 1 + width, 0)
    if name in ("Int64", "Int32"):
        if name == "Int32":  # a safe cast refuses values beyond int32 (as protobuf does)
            column = column.cast(pa.int32())
        values, present = _filled(column.cast(pa.int64()), 0, np.int64)
        return _tagged_varints(TAG_INT64 if name == "Int64" else TAG_INT32, values, present)
    if name == "Bool":
        values, present = _filled(column.cast(pa.bool_()), False, np.uint8)
        matrix = np.empty((len(values), 2), dtype=np.uint8)
        matrix[:, 0] = TAG_BOOL
        matrix[:, 1] = values
        return matrix, np.where(present, 2, 0)
    return None


def _combined(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _length_delimited(tag: int, column: pa.Array) -> pa.BinaryArray:
    """``tag`` + varint length + bytes of each (non-null) string or binary value."""
    data = column.cast(pa.binary())
    sizes, present = _filled(pc.binary_length(data), 0, np.int64)
    header = _rows_to_binary(*_tagged_varints(tag, sizes, present))
    return pc.binary_join_element_wise(header, pc.fill_null(data, _EMPTY), _EMPTY)


def _packed_list(column: pa.Array, element: str) -> pa.BinaryArray:
    """``Value{<x>_list_val: <X>List{val: [packed]}}`` of each list, without Python objects.

    Null lists -> b""; null elements are written as 0, as Feast's encoder does.
    """
    present = column.is_valid().to_numpy(zero_copy_only=False)
    counts = pc.fill_null(pc.list_value_length(column), 0).to_numpy().astype(np.int64)
    flat = pc.list_flatten(column)  # skips the slots of null lists
    bounds = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=bounds[1:])
    if element in ("Float32", "Float64"):
        width, arrow = (4, pa.float32()) if element == "Float32" else (8, pa.float64())
        if flat.type == arrow:  # embeddings: no conversion, no copy
            values, _ = _filled(flat, 0.0, np.float32 if width == 4 else np.float64)
        else:
            values, _ = _filled(flat.cast(pa.float64()), 0.0, np.float64)
        with np.errstate(over="ignore"):
            data = values.astype("<f4" if width == 4 else "<f8", copy=False).view(np.uint8)
        ends = bounds * width
    else:
        if element == "Int32":
            flat = flat.cast(pa.int32())
        values, _ = _filled(flat.cast(pa.int64()), 0, np.int64)
        matrix, sizes = _tagged_varints(b"", values, np.ones(len(values), dtype=bool))
        data = matrix[np.arange(matrix.shape[1]) < sizes[:, None]]
        ends = np.zeros(len(counts) + 1, dtype=np.int64)
        ends[1:] = np.concatenate([[0], np.cumsum(sizes)])[bounds[1:]]
    payload = np.diff(ends)
    message = np.where(payload > 0, 1 + _varint_size(payload) + payload, 0)
    outer = _rows_to_binary(*_tagged_varints(LIST_TAGS[element], message, present))
    inner = _rows_to_binary(*_tagged_varints(TAG_PACKED, payload, payload > 0))
    offsets = (ends - ends[0]).astype(np.int32)
    body = pa.BinaryArray.from_buffers(
        pa.binary(),
        len(counts),
        [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data))],
    )
    return pc.binary_join_element_wise(outer, inner, body, _EMPTY)


def _varint_size(values: np.ndarray) -> np.ndarray:
    unsigned = values.astype(np.int64, copy=False).view(np.uint64)
    size = np.ones(len(unsigned), dtype=np.int64)
    for k in range(1, _MAX_VARINT):
        size += (unsigned >> np.uint64(7 * k)) != 0
    return size


def encode_array(column: pa.Array | pa.ChunkedArray, ftype: FieldType) -> pa.BinaryArray:
    """Serialized ``Value`` protos of one Arrow column (null and NaN -> b""), vectorized.

    Equal to :func:`services.online.codec.encode_values` of the column's values.
    """
    column = _combined(column)
    rows = _scalar_rows(column, ftype.name)
    if rows is not None:
        return _rows_to_binary(*rows)
    if ftype.name in ("String", "Bytes"):
        return _length_delimited(TAG_STRING if ftype.name == "String" else TAG_BYTES, column)
    element = ftype.element.name if ftype.element is not None else None
    if element in LIST_TAGS and _is_list(column.type):
        return _packed_list(column, element)
    return pa.array(encode_values(column.to_pylist(), ftype), pa.binary())


def encode_bulk(column: pa.Array | pa.ChunkedArray, ftype: FieldType) -> pa.Array:
    """:func:`encode_array`, each value already framed as a RESP bulk string."""
    column = _combined(column)
    rows = _scalar_rows(column, ftype.name)
    return _framed(rows) if rows is not None else _bulk(encode_array(column, ftype))


def encode_timestamps(column: pa.Array | pa.ChunkedArray) -> pa.BinaryArray:
    """Serialized ``google.protobuf.Timestamp`` of each (non-null) instant, as ``FromDatetime``."""
    micros = _combined(column).cast(pa.timestamp("us", "UTC")).cast(pa.int64()).to_numpy()
    seconds, rest = np.divmod(micros, 1_000_000)
    nanos = rest * 1000
    return pc.binary_join_element_wise(
        _rows_to_binary(*_tagged_varints(_TS_SECONDS, seconds, seconds != 0)),
        _rows_to_binary(*_tagged_varints(_TS_NANOS, nanos, nanos != 0)),
        _EMPTY,
    )


def redis_keys_array(
    project: str, keys: KeyColumns, columns: Sequence[pa.Array | pa.ChunkedArray]
) -> pa.BinaryArray:
    """Feast's Redis hash keys (serialized entity key + project) of one or several join keys.

    ``columns`` hold the key values in the order of ``keys``; equal to
    :func:`services.online.keys.redis_key` row by row.
    """
    if len(columns) != len(keys):
        raise ValueError(f"{len(keys)} join keys but {len(columns)} columns")
    arrays = [_combined(c) for c in columns]
    for (name, _), array in zip(keys, arrays, strict=True):
        if array.null_count:
            raise ValueError(f"join key {name!r} has null values")
    suffix = project.encode("utf-8")
    if len(keys) == 1 and keys[0][1].name == "Int64":
        prefix = entity_key_prefix(keys[0][0])
        return _fixed_rows(prefix, _little_endian(arrays[0], "Int64"), suffix)
    head, order = key_layout(tuple(keys))
    parts: list[pa.Array | pa.Scalar] = [pa.scalar(head, pa.binary())]
    n = len(arrays[0]) if arrays else 0
    for i in order:
        ftype, array = keys[i][1], arrays[i]
        if ftype.name == "String":
            data = array.cast(pa.binary())
            sizes = pc.binary_length(data).to_numpy().astype("<u4")
            parts += [_fixed_rows(b"\x02\x00\x00\x00", sizes.view(np.uint8).reshape(-1, 4), b"")]
            parts.append(data)
        else:
            width = 8 if ftype.name == "Int64" else 4
            code = 4 if ftype.name == "Int64" else 3
            head_value = struct.pack("<II", code, width)
            parts.append(_fixed_rows(head_value, _little_endian(array, ftype.name), b""))
    if n == 0:
        return pa.array([], pa.binary())
    return pc.binary_join_element_wise(*parts, pa.scalar(suffix, pa.binary()), _EMPTY)


def _little_endian(array: pa.Array, name: str) -> np.ndarray:
    """Int64/Int32 key values as a (n, 8 or 4) matrix of their little-endian bytes."""
    arrow, dtype, width = (pa.int32(), "<i4", 4) if name == "Int32" else (pa.int64(), "<i8", 8)
    raw: np.ndarray = np.asarray(array.cast(arrow).to_numpy(), dtype=dtype)
    return raw.view(np.uint8).reshape(-1, width)


def _fixed_rows(prefix: bytes, middle: np.ndarray, suffix: bytes) -> pa.BinaryArray:
    """``prefix`` + each row of ``middle`` + ``suffix``, as one binary array."""
    n, width = middle.shape
    p = len(prefix)
    matrix = np.empty((n, p + width + len(suffix)), dtype=np.uint8)
    matrix[:, :p] = np.frombuffer(prefix, dtype=np.uint8)
    matrix[:, p : p + width] = middle
    matrix[:, p + width :] = np.frombuffer(suffix, dtype=np.uint8)
    return _rows_to_binary(matrix, np.full(n, matrix.shape[1]))


def bulk_timestamps(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """:func:`encode_timestamps`, each framed as a RESP bulk string."""
    return _bulk(encode_timestamps(column))


def _bulk(column: pa.Array) -> pa.Array:
    """Each value framed as a RESP bulk string: length header, bytes, CRLF."""
    sizes = pc.binary_length(column).cast(pa.string()).cast(pa.binary())
    return pc.binary_join_element_wise(_DOLLAR, sizes, _CRLF, column, _CRLF, _EMPTY)


def _bulk_const(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def hset_commands(
    keys: pa.Array, fields: Sequence[tuple[bytes, pa.Array]]
) -> tuple[pa.BinaryArray, np.ndarray]:
    """One RESP ``HSET key f1 v1 f2 v2 ...`` command per row, from framed values.

    Args:
        keys: the hash keys (plain bytes).
        fields: (field name, values already framed by :func:`encode_bulk` or ``_bulk``).

    Returns:
        The commands as a binary array and its int64 byte offsets (``n + 1`` of them), so
        that any run of rows is one contiguous slice of the array's data buffer.

    """
    head = b"*%d\r\n$4\r\nHSET\r\n" % (2 + 2 * len(fields))
    parts: list[pa.Array | pa.Scalar] = [pa.scalar(head, pa.binary()), _bulk(keys)]
    for name, values in fields:
        parts += [pa.scalar(_bulk_const(name), pa.binary()), values]
    commands = pc.binary_join_element_wise(*parts, _EMPTY)
    offsets = np.frombuffer(commands.buffers()[1], dtype=np.int32)
    offsets = offsets[commands.offset : commands.offset + len(commands) + 1].astype(np.int64)
    return commands, offsets


def _is_list(dtype: pa.DataType) -> bool:
    t = pa.types
    return bool(t.is_list(dtype) or t.is_large_list(dtype) or t.is_fixed_size_list(dtype))
