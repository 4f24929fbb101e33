"""The column-wise bulk encoder writes exactly the bytes of the per-value codec and of redis-py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
from feast.infra.key_encoding_utils import serialize_entity_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.connection import PythonRespSerializer

from services.contracts.types import BOOL, FLOAT64, INT64, STRING
from services.online.codec import (
    decode_timestamp,
    encode_timestamp,
    encode_values,
)
from services.online.columnar import (
    bulk_timestamps,
    encode_array,
    encode_bulk,
    encode_timestamps,
    hset_commands,
    redis_keys_array,
)
from services.online.keys import entity_key, redis_key

_TYPES = {"int": INT64, "float": FLOAT64, "string": STRING, "bool": BOOL}
_values = {
    "int": st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "float": st.floats(allow_nan=True, allow_infinity=True),
    "string": st.text(max_size=200),
    "bool": st.booleans(),
}
_instants = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


def _resp(*args: bytes) -> bytes:
    return b"".join(PythonRespSerializer(10**9, lambda x: x).pack(*args))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(_values)).flatmap(
        lambda kind: st.tuples(st.just(kind), st.lists(st.none() | _values[kind], max_size=30))
    )
)
def test_columns_encode_like_the_codec(case: tuple[str, list[object]]) -> None:
    kind, values = case
    ftype = _TYPES[kind]
    column = pa.array(values, ftype.arrow())
    expected = encode_values(values, ftype)
    assert encode_array(column, ftype).to_pylist() == expected
    framed = encode_bulk(column, ftype).to_pylist()
    assert framed == [b"$%d\r\n%s\r\n" % (len(v), v) for v in expected]


@settings(max_examples=100)
@given(st.lists(_instants, min_size=1, max_size=30))
def test_timestamps_encode_like_protobuf_and_decode_back(instants: list[datetime]) -> None:
    column = pa.array(instants, pa.timestamp("us", "UTC"))
    raw = encode_timestamps(column).to_pylist()
    assert raw == [encode_timestamp(t) for t in instants]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert [decode_timestamp(r) for r in raw] == [None if t == epoch else t for t in instants]
    assert bulk_timestamps(column).to_pylist() == [b"$%d\r\n%s\r\n" % (len(r), r) for r in raw]


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=20))
def test_keys_are_feasts_entity_keys(keys: list[int]) -> None:
    key = [("user_id", INT64)]
    ours = redis_keys_array("proj", key, [pa.array(keys, pa.int64())]).to_pylist()
    feast = [
        serialize_entity_key(entity_key(key, [k]), entity_key_serialization_version=3) + b"proj"
        for k in keys
    ]
    assert ours == feast == [redis_key("proj", key, [k]) for k in keys]


def test_hset_commands_are_what_redis_py_sends() -> None:
    keys = pa.array([b"k1", b"k22"], pa.binary())
    ts = [datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=9)]
    ts_raw = [encode_timestamp(t) for t in ts]
    values = [1.5, None]
    commands, offsets = hset_commands(
        keys,
        [
            (b"_ts:v", bulk_timestamps(pa.array(ts, pa.timestamp("us", "UTC")))),
            (b"f", encode_bulk(pa.array(values, pa.float64()), FLOAT64)),
        ],
    )
    raw = encode_values(values, FLOAT64)
    expected = [
        _resp(b"HSET", b"k1", b"_ts:v", ts_raw[0], b"f", raw[0]),
        _resp(b"HSET", b"k22", b"_ts:v", ts_raw[1], b"f", raw[1]),
    ]
    assert commands.to_pylist() == expected
    assert list(offsets) == [0, len(expected[0]), len(expected[0]) + len(expected[1])]
