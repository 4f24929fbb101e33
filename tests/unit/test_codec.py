"""Our fast Value encoder/decoder produces and reads exactly Feast's protobuf bytes."""

from __future__ import annotations

import math

import pyarrow as pa
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.type_map import python_values_to_proto_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.contracts.types import BOOL, FLOAT64, INT64, STRING, FieldType
from services.online.codec import (
    decode_column,
    decode_fast,
    decode_raw,
    encode_values,
)

_TYPES = {"int": INT64, "float": FLOAT64, "string": STRING, "bool": BOOL}
_values = {
    "int": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "float": st.floats(allow_nan=True, allow_infinity=True),
    "string": st.text(max_size=40),
    "bool": st.booleans(),
}


def _feast_bytes(values: list[object], ftype: FieldType) -> list[bytes]:
    out = []
    for v in values:
        if v is None:
            out.append(ValueProto().SerializeToString())
        else:
            out.append(
                python_values_to_proto_values([v], ftype.value_type())[0].SerializeToString()
            )
    return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b and type(a) is type(b)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(_values)).flatmap(
        lambda kind: st.tuples(st.just(kind), st.lists(st.none() | _values[kind], max_size=8))
    )
)
def test_fast_codec_matches_feast_bytes_and_values(case: tuple[str, list[object]]) -> None:
    kind, values = case
    ours = encode_values(values, _TYPES[kind])
    assert ours == _feast_bytes(values, _TYPES[kind])
    for raw, value in zip(ours, values, strict=True):
        expected = None if isinstance(value, float) and math.isnan(value) else value  # NaN is null
        assert _same(decode_fast(raw), expected)
        assert _same(decode_fast(raw), decode_raw(raw))
    column = decode_column(ours, _TYPES[kind])
    assert all(_same(a, decode_fast(r)) for a, r in zip(column, ours, strict=True))


@given(
    st.lists(
        st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.integers(0, 2**22)
    )
)
def test_int_columns_decode_like_protobuf(values: list[int | None]) -> None:
    raw = encode_values(values, INT64)
    assert decode_column([*raw, None], INT64) == [*values, None]


def test_other_kinds_fall_back_to_protobuf() -> None:
    raw = ValueProto(float_val=1.5).SerializeToString()
    assert decode_fast(raw) == 1.5
    assert pa.array([1]).type == pa.int64()
