"""Numpy scalars in an online request are the Python values they hold, under the same checks.

``check_key_value`` and ``check_request_value`` (``services.online.requests``) took only Python
ints and bools, so ``np.int32(5)`` for an Int32 key was "expected Int32, got np.int32(5)".
The demo repository has no Int32 key and no Bool request field; these are its checks alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from services.contracts.specs import ColumnSpec
from services.contracts.types import FieldType
from services.errors import EntityKeyError, RequestDataError
from services.online.requests import check_key_value, check_request_value

INT32 = FieldType("Int32")


def _spec(type_name: str, **facts: Any) -> ColumnSpec:
    return ColumnSpec(
        name="field",
        type=FieldType(type_name),
        nullable=False,
        description="",
        owner="",
        role="request",
        **facts,
    )


@pytest.mark.parametrize("value", [np.int32(5), np.int64(5), np.uint8(5), 5])
def test_an_int32_key_takes_numpy_integers_as_python_ints(value: Any) -> None:
    got = check_key_value("item_id", INT32, 0, value)
    assert got == 5
    assert type(got) is int


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (np.int64(2**31), "row 0: 2147483648 is outside Int32"),
        (np.int64(-(2**31) - 1), "row 0: -2147483649 is outside Int32"),
        (2**31, "row 0: 2147483648 is outside Int32"),
        (np.bool_(True), "row 0: expected Int32, got True"),
        (np.float32(5.0), "row 0: expected Int32, got 5.0"),
        (5.0, "row 0: expected Int32, got 5.0"),
    ],
)
def test_an_int32_key_refuses_numpy_values_as_python_ones(value: Any, reason: str) -> None:
    with pytest.raises(EntityKeyError) as caught:
        check_key_value("item_id", INT32, 0, value)
    assert str(caught.value) == f"entity key 'item_id': {reason}"


def test_a_string_key_takes_a_numpy_string() -> None:
    got = check_key_value("user_id", FieldType("String"), 0, np.str_("u1"))
    assert got == "u1"
    assert type(got) is str


@pytest.mark.parametrize(
    ("type_name", "value"),
    [("Bool", np.bool_(True)), ("Int32", np.int16(7)), ("Float32", np.float32(0.5))],
)
def test_request_fields_take_numpy_scalars_of_their_type(type_name: str, value: Any) -> None:
    check_request_value(_spec(type_name), 0, value)


@pytest.mark.parametrize(
    ("type_name", "value", "reason"),
    [
        ("Bool", np.int64(1), "row 0: expected Bool, got 1"),
        ("Int32", np.float64(7.0), "row 0: expected Int32, got 7.0"),
        ("Int32", np.bool_(False), "row 0: expected Int32, got False"),
        ("String", np.int64(1), "row 0: expected String, got 1"),
    ],
)
def test_request_fields_refuse_numpy_scalars_of_another_type(
    type_name: str, value: Any, reason: str
) -> None:
    with pytest.raises(RequestDataError) as caught:
        check_request_value(_spec(type_name), 0, value)
    assert str(caught.value) == f"request data 'field': {reason}"


def test_a_numpy_request_value_is_held_to_the_contract_range() -> None:
    with pytest.raises(RequestDataError) as caught:
        check_request_value(_spec("Int32", ge=0, le=23), 0, np.int32(24))
    assert str(caught.value) == "request data 'field': row 0: 24 outside the contract range [0, 23]"
