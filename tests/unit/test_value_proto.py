"""Stored values decode without Feast exactly as Feast's own decoder reads them, for every type."""

from __future__ import annotations

from typing import Any

from feast.protos.feast.types.Value_pb2 import Value as FeastValue
from feast.type_map import feast_value_type_to_python_type
from hypothesis import given, settings
from hypothesis import strategies as st

from services.contracts.types import FieldType
from services.online.codec import decode_raw, encode_values
from services.online.value_proto import parse_value, python_value_of, value_class
from tests.repo_factory import field_types, values


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same Python type all the way down (True is not 1, 1.0 is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[FieldType, list[Any]]:
    ftype = draw(field_types)
    return ftype, draw(st.lists(st.none() | values(ftype), min_size=1, max_size=4))


def test_the_class_is_feasts_own() -> None:
    # Loaded by path before or after Feast, protobuf hands out one class: protos mix freely.
    assert value_class() is FeastValue
    assert isinstance(parse_value(FeastValue(int64_val=7).SerializeToString()), FeastValue)


@settings(max_examples=300, deadline=None)
@given(typed_values())
def test_decoding_matches_feast_on_every_type(drawn: tuple[FieldType, list[Any]]) -> None:
    ftype, items = drawn
    for raw in encode_values(items, ftype):
        if not raw:
            continue
        ours = python_value_of(parse_value(raw))
        feasts = feast_value_type_to_python_type(FeastValue.FromString(raw))
        assert _same(ours, feasts), (ftype, raw, ours, feasts)
        assert _same(decode_raw(raw), feasts), (ftype, raw)


def test_kinds_skewless_never_writes_go_to_feast() -> None:
    # A set is decoded by Feast's function itself (imported then), so it is still read as Feast.
    proto = FeastValue()
    proto.int64_set_val.val.extend([3, 1, 3])
    assert python_value_of(proto) == {1, 3}
    assert python_value_of(FeastValue()) is None
