"""Every FieldType and key kind: our bytes are Feast's, and read back as Feast reads them.

For each type, over generated values (nulls, NaN, empty and null arrays, int32 extremes,
unicode, bytes with zero bytes, nested maps, JSON scalars and lists, structs):

- ``encode_values``/``encode_array``/``encode_bulk`` equal Feast's
  ``python_values_to_proto_values(...).SerializeToString()``;
- decoding gives :func:`online_value`, which is :func:`python_value` except for the documented
  losses of Feast's online format, and Feast's ``feast_value_type_to_python_type`` reads our
  bytes to the same value;
- numpy/pandas/Arrow representations of a value have the same canonical value and bytes;
- keys of one or several Int32/Int64/String join keys equal ``serialize_entity_key``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from feast.infra.key_encoding_utils import deserialize_entity_key, serialize_entity_key
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.type_map import feast_value_type_to_python_type, python_values_to_proto_values
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from services.contracts.types import (
    BOOL,
    BYTES,
    FLOAT32,
    FLOAT64,
    INT32,
    INT64,
    STRING,
    TIMESTAMP,
    FieldType,
)
from services.online.codec import (
    decode_column,
    decode_fast,
    decode_raw,
    encode_column,
    encode_values,
)
from services.online.columnar import encode_array, encode_bulk, redis_keys_array
from services.online.keys import (
    entity_key,
    entity_key_prefix,
    redis_key,
    redis_keys,
    serialized_key,
)
from services.online.values import online_value, python_value

MAP, JSON = FieldType("Map"), FieldType("Json")
STRUCT = FieldType(
    "Struct",
    fields=(
        ("i", INT64),
        ("s", STRING),
        ("f", FLOAT32),
        ("b", BOOL),
        ("raw", BYTES),
        ("at", TIMESTAMP),
        ("small", INT32),
        ("d", FLOAT64),
    ),
)
SCALARS = (INT32, INT64, FLOAT32, FLOAT64, STRING, BYTES, BOOL, TIMESTAMP)


def array(element: FieldType, length: int | None = None) -> FieldType:
    return FieldType("Array", element=element, length=length)


ALL_TYPES = (*SCALARS, *(array(t) for t in SCALARS), MAP, JSON, STRUCT)


def _f32(x: float) -> float:
    with np.errstate(over="ignore"):
        return float(np.float32(x))


_I32 = st.integers(-(2**31), 2**31 - 1) | st.sampled_from([-(2**31), 2**31 - 1, -1, 0])
_I64 = st.integers(-(2**63), 2**63 - 1) | st.sampled_from([-(2**63), 2**63 - 1, -1])
_INSTANTS = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
) | st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1))
_TEXT = st.text(max_size=12)
SCALAR_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "Int32": _I32,
    "Int64": _I64,
    "Float32": st.floats(),  # any double: Feast (and we) round it to float32
    "Float64": st.floats(),
    "String": _TEXT,
    "Bytes": st.binary(max_size=12) | st.just(b"\x00\x00"),
    "Bool": st.booleans(),
    "UnixTimestamp": _INSTANTS,
}

# Map values Feast can encode: its leaves are typed by inference, so lists must be
# non-empty and of one type (Feast refuses [] and mixed lists in a Map).
_MAP_LEAF = (
    st.none()
    | st.booleans()
    | _I64
    | st.floats(allow_infinity=False)
    | _TEXT
    | st.lists(_I64, min_size=1, max_size=3)
    | st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=3)
    | st.lists(_TEXT, min_size=1, max_size=3)
    | st.lists(st.booleans(), min_size=1, max_size=3)
)
# Two levels of nesting, spelled out: st.recursive warns (an error here) whenever a run's
# draws happen never to recurse.
_NESTED_MAP = st.dictionaries(_TEXT, _MAP_LEAF, max_size=3)
_MAPS = st.dictionaries(
    _TEXT, _MAP_LEAF | _NESTED_MAP | st.lists(_NESTED_MAP, min_size=1, max_size=2), max_size=3
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


def _struct_values(
    *, empty_bytes: bool, exact_in_float64: bool = False
) -> st.SearchStrategy[dict[str, Any]]:
    fields = {n: st.none() | SCALAR_VALUES[t.name] for n, t in STRUCT.fields}
    if exact_in_float64:  # pandas/numpy hold an int column with nulls as float64
        fields["i"] = st.none() | st.integers(-(2**53), 2**53)
    fields["f"] = st.none() | st.floats().map(_f32)  # a Float32 field holds float32 values
    if not empty_bytes:  # Feast cannot encode b"" in a struct (it infers no type for it)
        fields["raw"] = st.none() | st.binary(min_size=1, max_size=12)
    return st.fixed_dictionaries(fields)


def values_of(ftype: FieldType) -> st.SearchStrategy[Any]:
    """Plain Python values of ``ftype`` (and None)."""
    if ftype.name == "Array":
        assert ftype.element is not None
        element = st.none() | SCALAR_VALUES[ftype.element.name]
        return st.none() | st.lists(element, max_size=6)
    if ftype.name == "Map":
        return st.none() | _MAPS | _MAPS.map(json.dumps)  # dicts, or their JSON text
    if ftype.name == "Json":  # objects (a top-level str is JSON text), or JSON text
        return st.none() | _JSON.filter(lambda v: not isinstance(v, str)) | _JSON.map(json.dumps)
    if ftype.name == "Struct":
        return st.none() | _struct_values(empty_bytes=False)
    return st.none() | SCALAR_VALUES[ftype.name]


def _feast_bytes(values: list[Any], ftype: FieldType) -> list[bytes]:
    """Feast's own encoding of a batch of values (null -> b"")."""
    # Feast writes b"" as null when its batch holds no non-empty bytes value; with one
    # more value in the batch it writes the value b"" (as we always do; see below).
    extra = [b"\x00"] if ftype == BYTES else []
    if ftype.name == "Struct":  # we write every declared field, in declared (Arrow) order
        values = [v if v is None else {n: v.get(n) for n, _ in ftype.fields} for v in values]
    protos = python_values_to_proto_values([*values, *extra], ftype.value_type())
    return [p.SerializeToString() for p in protos[: len(values)]]


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types, NaN equal to NaN, recursively."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def _seconds(moment: datetime | None) -> datetime | None:
    return None if moment is None else datetime.fromtimestamp(int(moment.timestamp()), UTC)


_ZERO = {"Int32": 0, "Int64": 0, "Float32": 0.0, "Float64": 0.0, "String": "", "Bytes": b""}


def _only_documented_losses(canonical: Any, online: Any, ftype: FieldType) -> bool:
    """``online`` is ``canonical`` but for what :func:`online_value` documents."""
    if canonical is None or online is None:
        return canonical is None and online is None
    if ftype.name == "UnixTimestamp":
        return same(_seconds(canonical), online)
    if ftype.name == "Struct":
        return all(
            _only_documented_losses(canonical[n], online[n], t) for n, t in ftype.fields
        ) and list(canonical) == list(online)
    if ftype.name == "Array":
        assert ftype.element is not None
        element = ftype.element
        if len(canonical) != len(online):
            return False
        for c, o in zip(canonical, online, strict=True):
            if c is None and element.name != "UnixTimestamp":
                zero = _ZERO.get(element.name, False)
                if not (same(o, zero) or (element.is_float and math.isnan(o))):
                    return False
            elif not _only_documented_losses(c, o, element):
                return False
        return True
    return same(canonical, online)


def _cases(types: tuple[FieldType, ...], size: int) -> st.SearchStrategy[Any]:
    return st.sampled_from(types).flatmap(
        lambda t: st.tuples(st.just(t), st.lists(values_of(t), max_size=size))
    )


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_cases(ALL_TYPES, 6))
def test_every_type_encodes_as_feast_and_decodes_to_its_canonical_value(
    case: tuple[FieldType, list[Any]],
) -> None:
    ftype, values = case
    ours = encode_values(values, ftype)
    assert ours == _feast_bytes(values, ftype)
    assert [p.SerializeToString() for p in encode_column(_arrow(values, ftype), ftype)] == ours
    decoded = decode_column(ours, ftype)
    for raw, value, column_value in zip(ours, values, decoded, strict=True):
        expected = online_value(value, ftype)
        feast = feast_value_type_to_python_type(ValueProto.FromString(raw))
        assert same(decode_fast(raw), expected), (value, decode_fast(raw), expected)
        assert same(decode_raw(raw), expected)
        assert same(feast, expected)
        assert same(column_value, expected)
        assert _only_documented_losses(python_value(value, ftype), expected, ftype)


def _arrow_value(value: Any, ftype: FieldType) -> Any:
    if ftype.name in ("Map", "Json") and value is not None and not isinstance(value, str):
        return json.dumps(value)  # stored offline as JSON text
    return value


def _arrow(values: list[Any], ftype: FieldType) -> pa.Array:
    if ftype.name == "Float32":
        values = [None if v is None else _f32(v) for v in values]
    if ftype.name == "Array" and ftype.element == FLOAT32:
        values = [
            None if v is None else [None if e is None else _f32(e) for e in v] for v in values
        ]
    return pa.array([_arrow_value(v, ftype) for v in values], ftype.arrow())


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(_cases(ALL_TYPES, 12), st.integers(0, 12))
def test_columns_encode_like_the_codec_for_every_type(
    case: tuple[FieldType, list[Any]], cut: int
) -> None:
    ftype, values = case
    column = _arrow(values, ftype)
    expected = encode_values(column.to_pylist(), ftype)
    assert expected == _feast_bytes(column.to_pylist(), ftype)
    assert encode_array(column, ftype).to_pylist() == expected
    framed = [b"$%d\r\n%s\r\n" % (len(v), v) for v in expected]
    assert encode_bulk(column, ftype).to_pylist() == framed
    cut = min(cut, len(values))  # sliced and chunked columns (Arrow offsets) too
    assert encode_array(column.slice(cut), ftype).to_pylist() == expected[cut:]
    chunked = pa.chunked_array([column.slice(0, cut), column.slice(cut)], ftype.arrow())
    assert encode_bulk(chunked, ftype).to_pylist() == framed


@settings(max_examples=100, deadline=None)
@given(st.lists(st.none() | st.floats(), max_size=20))
def test_float32_from_a_float64_column_rounds_as_protobuf(values: list[float | None]) -> None:
    column = pa.array(values, pa.float64())
    assert encode_array(column, FLOAT32).to_pylist() == _feast_bytes(values, FLOAT32)
    vectors = pa.array([values, None, []], pa.list_(pa.float64()))
    expected = _feast_bytes([values, None, []], array(FLOAT32))
    assert encode_array(vectors, array(FLOAT32)).to_pylist() == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.floats(width=32), min_size=8, max_size=8), max_size=10))
def test_fixed_length_embeddings_encode_packed(vectors: list[list[float]]) -> None:
    ftype = array(FLOAT32, length=8)
    column = pa.array(vectors, pa.list_(pa.float32(), 8))
    expected = _feast_bytes(vectors, ftype)
    assert encode_array(column, ftype).to_pylist() == expected
    assert same(decode_column(expected, ftype), [[float(x) for x in v] for v in vectors])


def _representations(column: pa.Array) -> list[list[Any]]:
    """The values of a column as Arrow scalars, numpy objects and pandas objects."""
    return [list(column), list(column.to_numpy(zero_copy_only=False)), list(column.to_pandas())]


_NUMPY_SAFE = tuple(t for t in ALL_TYPES if t not in (INT64, array(INT64), STRUCT))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.one_of(
        _cases(_NUMPY_SAFE, 6),
        st.tuples(st.just(INT64), st.lists(st.none() | st.integers(-(2**53), 2**53))),
        st.tuples(
            st.just(array(INT64)),
            st.lists(st.none() | st.lists(st.none() | st.integers(-(2**53), 2**53))),
        ),
    )
)
def test_numpy_pandas_and_arrow_forms_have_one_canonical_value(
    case: tuple[FieldType, list[Any]],
) -> None:
    ftype, values = case
    column = _arrow(values, ftype)
    plain = column.to_pylist()
    canonical = [python_value(v, ftype) for v in plain]
    assert all(same(python_value(v, ftype), c) for v, c in zip(values, canonical, strict=True))
    raw = encode_values(plain, ftype)
    nan_for_null = ftype.name == "Array" and ftype.element is not None and ftype.element.is_float
    for form in _representations(column):
        assert all(same(python_value(v, ftype), c) for v, c in zip(form, canonical, strict=True))
        if not (nan_for_null and any(v and None in v for v in plain)):
            # (numpy/pandas hold a null element of a float array as NaN, which Feast keeps)
            assert encode_values(form, ftype) == raw


def test_canonical_values_of_odd_representations() -> None:
    assert python_value(np.int32(-5), INT64) == -5
    assert python_value(float("nan"), INT64) is None
    assert python_value(np.float32(0.1), FLOAT64) == float(np.float32(0.1))
    assert python_value(0.1, FLOAT32) == float(np.float32(0.1))
    assert python_value(np.nan, FLOAT32) is None
    assert python_value(np.bytes_(b"a\x00"), BYTES) == b"a\x00"
    assert python_value(np.bool_(True), BOOL) is True
    ns = np.datetime64("2026-01-02T03:04:05.123456789", "ns")
    expected = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert python_value(ns, TIMESTAMP) == expected
    import pandas as pd

    assert python_value(pd.Timestamp(ns).tz_localize("UTC"), TIMESTAMP) == expected
    assert python_value(pd.NaT, TIMESTAMP) is None
    assert python_value(pd.NA, STRING) is None
    assert python_value(np.array([1.0, np.nan]), array(INT64)) == [1, None]
    assert python_value((1, 2), array(INT32)) == [1, 2]
    assert python_value(np.nan, array(STRING)) is None
    assert python_value('{"a": {"b": [1, 2]}, "c": NaN}', MAP) == {"a": {"b": [1, 2]}, "c": None}
    assert python_value('"text"', JSON) == "text"
    assert python_value((1, np.int64(2)), JSON) == [1, 2]
    assert python_value({1: "a"}, JSON) == {"1": "a"}  # read as JSON reads it back
    assert python_value({"i": np.int64(1)}, STRUCT) == {n: None for n, _ in STRUCT.fields} | {
        "i": 1
    }
    with pytest.raises(TypeError):
        python_value("[1]", MAP)


def test_documented_differences_from_feast() -> None:
    # b"" alone: Feast writes null (no non-empty sample in its batch); we write the value,
    # which Feast reads back as b"".
    assert python_values_to_proto_values([b""], BYTES.value_type())[0].WhichOneof("val") is None
    (ours,) = encode_values([b""], BYTES)
    assert ours == b"\x0a\x00"
    assert feast_value_type_to_python_type(ValueProto.FromString(ours)) == b""
    # b"" in a struct field: Feast's encoder refuses it; we write it as bytes_val b"".
    value = {n: None for n, _ in STRUCT.fields} | {"raw": b"", "i": 7}
    with pytest.raises(TypeError):
        python_values_to_proto_values([value], STRUCT.value_type())
    (raw,) = encode_values([value], STRUCT)
    assert feast_value_type_to_python_type(ValueProto.FromString(raw)) == value
    assert decode_fast(raw) == python_value(value, STRUCT)


def test_online_losses_are_the_documented_ones() -> None:
    moment = datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)
    raw = encode_values([moment], TIMESTAMP)[0]
    assert decode_fast(raw) == online_value(moment, TIMESTAMP) == datetime(1970, 1, 1, tzinfo=UTC)
    floats = [1.5, None, float("nan")]
    (raw,) = encode_values([floats], array(FLOAT64))
    assert same(decode_fast(raw), [1.5, 0.0, float("nan")])
    assert python_value(floats, array(FLOAT64)) == [1.5, None, None]
    assert decode_fast(encode_values([["a", None]], array(STRING))[0]) == ["a", ""]
    assert decode_fast(encode_values([[moment, None]], array(TIMESTAMP))[0]) == [
        datetime(1970, 1, 1, tzinfo=UTC),
        None,
    ]


@settings(max_examples=50, deadline=None)
@given(_struct_values(empty_bytes=True))
def test_structs_round_trip_including_empty_bytes(value: dict[str, Any]) -> None:
    (raw,) = encode_values([value], STRUCT)
    assert same(decode_fast(raw), online_value(value, STRUCT))
    assert same(feast_value_type_to_python_type(ValueProto.FromString(raw)), decode_fast(raw))


# ------------------------------------------------------------------------------------ keys
_KEY_VALUES = {"Int32": _I32, "Int64": _I64, "String": st.text(max_size=10)}
_KEY_TYPES = (INT32, INT64, STRING)


@st.composite
def _keyed_rows(draw: st.DrawFn) -> tuple[list[tuple[str, FieldType]], list[tuple[Any, ...]]]:
    names = draw(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=3, unique=True))
    keys = [(n, draw(st.sampled_from(_KEY_TYPES))) for n in names]
    rows = draw(st.lists(st.tuples(*(_KEY_VALUES[t.name] for _, t in keys)), max_size=6))
    return keys, rows


def _feast_key(keys: list[tuple[str, FieldType]], row: tuple[Any, ...]) -> bytes:
    key: bytes = serialize_entity_key(entity_key(keys, row), entity_key_serialization_version=3)
    return key


@settings(max_examples=300, deadline=None)
@given(_keyed_rows(), st.text(max_size=8))
@example(([("user", INT64)], [(-1,), (2**63 - 1,)]), "proj")
@example(([("zeta", STRING), ("alpha", INT32), ("mid", INT64)], [("é", -(2**31), 5)]), "p")
@example(([("b", INT32), ("a", STRING)], [(2**31 - 1, "")]), "")
def test_keys_are_feasts_entity_keys(
    case: tuple[list[tuple[str, FieldType]], list[tuple[Any, ...]]], project: str
) -> None:
    keys, rows = case
    feast = [_feast_key(keys, row) for row in rows]
    assert [serialized_key(keys, row) for row in rows] == feast
    suffix = project.encode()
    expected = [k + suffix for k in feast]
    assert [redis_key(project, keys, row) for row in rows] == expected
    assert redis_keys(project, keys, rows) == expected
    columns = [pa.array([row[i] for row in rows], t.arrow()) for i, (_, t) in enumerate(keys)]
    assert redis_keys_array(project, keys, columns).to_pylist() == expected
    for raw in feast:  # Feast reads it back, keys sorted
        proto = deserialize_entity_key(raw, entity_key_serialization_version=3)
        # (Feast's reader strips trailing NULs from key names)
        assert list(proto.join_keys) == [n.rstrip("\x00") for n in sorted(n for n, _ in keys)]


def test_int64_key_prefix_is_feasts() -> None:
    keys = [("user_id", INT64)]
    assert _feast_key(keys, (0,)) == entity_key_prefix("user_id") + b"\x00" * 8


def test_bad_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="Int32, Int64 or String"):
        serialized_key([("x", FLOAT64)], [1.0])
    with pytest.raises(ValueError, match="null"):
        redis_keys_array("p", [("x", STRING)], [pa.array(["a", None])])
    with pytest.raises(ValueError, match="duplicate"):
        serialized_key([("x", INT64), ("x", INT64)], [1, 2])
