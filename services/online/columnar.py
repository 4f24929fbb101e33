"""Bulk online writes: Arrow columns to Feast's value bytes and raw Redis ``HSET`` commands.

Materialization writes ~10^5 hashes of ~25 fields each; encoding them one Python value at a
time (and packing each command through redis-py) costs far more than Redis itself. Here every
step is a vectorized NumPy/Arrow kernel: the varint, double and string encodings of
``feast.types.Value``, the ``google.protobuf.Timestamp`` of the event time, and the RESP framing
of the whole ``HSET`` command. The bytes equal what :mod:`services.online.codec` produces one
value at a time (``tests/unit/test_columnar.py`` proves it), which Feast reads as its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from services.contracts.base import Kind
from services.online.codec import (
    TAG_BOOL,
    TAG_DOUBLE,
    TAG_INT64,
    TAG_STRING,
    encode_values,
    entity_key_prefix,
)

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


def _tagged_varints(tag: int, values: np.ndarray, present: np.ndarray) -> Rows:
    """``tag`` + protobuf varint of each int64 (two's complement), or nothing where absent."""
    unsigned = values.astype(np.int64, copy=False).view(np.uint64)
    n = len(unsigned)
    size = np.ones(n, dtype=np.int64)
    for k in range(1, _MAX_VARINT):
        size += (unsigned >> np.uint64(7 * k)) != 0
    matrix = np.zeros((n, 1 + _MAX_VARINT), dtype=np.uint8)
    matrix[:, 0] = tag
    for k in range(_MAX_VARINT):
        group = ((unsigned >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        matrix[:, 1 + k] = group | ((k < size - 1).astype(np.uint8) << 7)
    return matrix, np.where(present, size + 1, 0)


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
    present = column.is_valid().to_numpy(zero_copy_only=False)
    values = pc.fill_null(column, fill).to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    return values, present


def _scalar_rows(column: pa.Array, kind: Kind) -> Rows | None:
    """The fixed-width encodings (float, int, bool) as rows; None for other kinds."""
    if kind == "float":
        values, present = _filled(column.cast(pa.float64()), 0.0, np.float64)
        present &= ~np.isnan(values)
        matrix = np.empty((len(values), 9), dtype=np.uint8)
        matrix[:, 0] = TAG_DOUBLE
        matrix[:, 1:] = values.astype("<f8").view(np.uint8).reshape(-1, 8)
        return matrix, np.where(present, 9, 0)
    if kind == "int":
        values, present = _filled(column.cast(pa.int64()), 0, np.int64)
        return _tagged_varints(TAG_INT64, values, present)
    if kind == "bool":
        values, present = _filled(column.cast(pa.bool_()), False, np.uint8)
        matrix = np.empty((len(values), 2), dtype=np.uint8)
        matrix[:, 0] = TAG_BOOL
        matrix[:, 1] = values
        return matrix, np.where(present, 2, 0)
    return None


def _combined(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def encode_array(column: pa.Array | pa.ChunkedArray, kind: Kind) -> pa.BinaryArray:
    """Serialized ``Value`` protos of one Arrow column (null and NaN -> b""), vectorized."""
    column = _combined(column)
    rows = _scalar_rows(column, kind)
    if rows is not None:
        return _rows_to_binary(*rows)
    if kind == "string":
        data = column.cast(pa.binary())
        sizes, present = _filled(pc.binary_length(data), 0, np.int64)
        header = _rows_to_binary(*_tagged_varints(TAG_STRING, sizes, present))
        return pc.binary_join_element_wise(header, pc.fill_null(data, _EMPTY), _EMPTY)
    return pa.array(encode_values(column.to_pylist(), kind), pa.binary())


def encode_bulk(column: pa.Array | pa.ChunkedArray, kind: Kind) -> pa.Array:
    """:func:`encode_array`, each value already framed as a RESP bulk string."""
    column = _combined(column)
    rows = _scalar_rows(column, kind)
    return _framed(rows) if rows is not None else _bulk(encode_array(column, kind))


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


def redis_keys_array(project: str, join_key: str, keys: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Feast's Redis hash keys (serialized entity key + project) of int64 entity keys."""
    keys = _combined(keys)
    raw = keys.cast(pa.int64()).to_numpy().astype("<i8")
    prefix, suffix = entity_key_prefix(join_key), project.encode("utf-8")
    matrix = np.empty((len(raw), len(prefix) + 8 + len(suffix)), dtype=np.uint8)
    matrix[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    matrix[:, len(prefix) : len(prefix) + 8] = raw.view(np.uint8).reshape(-1, 8)
    matrix[:, len(prefix) + 8 :] = np.frombuffer(suffix, dtype=np.uint8)
    return _rows_to_binary(matrix, np.full(len(raw), matrix.shape[1]))


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
