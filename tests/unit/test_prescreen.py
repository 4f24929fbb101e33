"""The whole-column first pass never hides a failing row: validation with it equals Pandera's alone.

Frames of three contracts (every built-in check kind the demo and bench repositories use: ranges,
categories, string lengths, a nullable integer, the key's uniqueness over an integer key and
over a composite text key) get random defects drawn by hypothesis; each is validated with the
pass and our own key check, and by Pandera alone (its ``unique`` included), and the row reasons
and batch problems must be identical.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandera.typing import Series

from bench.contracts import BenchUserActivity, UtcTimestamp
from services.contracts import SourceContract
from services.contracts.schema import validation_schema
from services.ingestion import prescreen
from services.ingestion.conform import Failures, conform
from services.ingestion.prescreen import suspect_rows
from services.ingestion.validate import validate_rows
from tests.unit.test_conform_and_hash import activity_rows
from tests.unit.test_contracts import demo_repository

ROWS = 40
# What a defect writes into a cell: values outside every range used here, an unknown category,
# a string of the wrong length, a null, a NaN, text where a number belongs.
DEFECTS: list[Any] = [-1, 10**9, 1.5, "XX", "", "a" * 70, None, np.nan, "12"]


def _profile_rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.Series(pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), "h"))
    return pd.DataFrame(
        {
            "customer_id": rng.integers(1, 10, n),
            "event_timestamp": ts,
            "created_timestamp": ts,
            "account_age_days": rng.integers(0, 40_000, n),
            "country": np.array(["GB", "FR", "DE"], dtype=object)[rng.integers(0, 3, n)],
            "postcode_hash": ["f" * 32] * n,
            "credit_limit": rng.random(n) * 1000,
            "kyc_verified": rng.random(n) < 0.5,
        }
    )


class TextKeyed(SourceContract):
    """A composite text key (store and SKU) beside a nullable integer."""

    store: Series[str] = pa.Field(
        isin=["north", "south"], description="Store.", metadata={"role": "entity"}
    )
    sku: Series[str] = pa.Field(
        str_length={"min_value": 2, "max_value": 8}, description="SKU.", metadata={"role": "entity"}
    )
    event_timestamp: Series[UtcTimestamp] = pa.Field(
        description="Event time.", metadata={"role": "timestamp"}
    )
    stock: Series[pd.Int64Dtype] = pa.Field(ge=0, nullable=True, description="Units in stock.")

    class Config:
        name = "text_keyed"
        description = "Test: a composite text key."
        metadata = {"owner": "tests@skewless.example", "entity": "sku", "ttl_hours": 24}


def _text_keyed_rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 3, n), "h")
    return pd.DataFrame(
        {
            "store": np.array(["north", "south"], dtype=object)[rng.integers(0, 2, n)],
            "sku": [f"s{k}" for k in rng.integers(0, 6, n)],  # repeats on their own too
            "event_timestamp": ts,
            "stock": pd.array(rng.integers(0, 50, n), dtype="Int64"),
        }
    )


def _frames() -> dict[str, tuple[type[SourceContract], Any]]:
    return {
        "activity": (BenchUserActivity, activity_rows),
        "profile": (demo_repository().contract("customer_profile"), _profile_rows),
        "text-keyed": (TextKeyed, _text_keyed_rows),
    }


def _validate(
    raw: pd.DataFrame, contract: type[SourceContract], screen: bool
) -> tuple[dict[int, Any], list[Any]]:
    """With ``screen``, the gate's way; without, Pandera alone, its key check included."""
    failures = Failures()
    typed = conform(raw, contract, failures)
    converted = np.setdiff1d(np.arange(len(typed)), list(failures.reasons))
    validate_rows(typed, contract, converted, failures, screen=screen, pandera_keys=not screen)
    return failures.reasons, failures.batch


def _damage(frame: pd.DataFrame, defects: list[tuple[int, int, int]], copies: list[int]) -> None:
    for row, col, defect in defects:
        name = frame.columns[col % len(frame.columns)]
        value = DEFECTS[defect]
        column = frame[name]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                frame.loc[row % len(frame), name] = value
        except (TypeError, ValueError, FutureWarning):  # a value the column's dtype cannot hold
            frame[name] = column.astype(object)
            frame.loc[row % len(frame), name] = value
    for source, target in zip(copies[::2], copies[1::2], strict=False):
        frame.iloc[target % len(frame)] = frame.iloc[source % len(frame)]  # a repeated key


@pytest.mark.parametrize("distinct", [False, True], ids=["row-by-row", "distinct-values"])
@pytest.mark.parametrize("kind", ["activity", "profile", "text-keyed"])
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 1000),
    defects=st.lists(
        st.tuples(st.integers(0, ROWS), st.integers(0, 30), st.integers(0, len(DEFECTS) - 1)),
        max_size=12,
    ),
    copies=st.lists(st.integers(0, ROWS), max_size=6),
)
def test_screened_validation_equals_pandera_alone(
    kind: str, distinct: bool, seed: int, defects: list[tuple[int, int, int]], copies: list[int]
) -> None:
    """With ``distinct``, every text column is screened by its distinct values (on a million
    rows only low-cardinality ones are; here the sample and share are lowered to force it)."""
    contract, rows = _frames()[kind]
    frame = rows(ROWS, seed)
    _damage(frame, defects, copies)
    saved = prescreen.SAMPLE, prescreen.DISTINCT_SHARE
    if distinct:
        prescreen.SAMPLE, prescreen.DISTINCT_SHARE = 4, 1
    try:
        screened = _validate(frame.copy(), contract, screen=True)
    finally:
        prescreen.SAMPLE, prescreen.DISTINCT_SHARE = saved
    alone = _validate(frame.copy(), contract, screen=False)
    assert screened == alone


def test_a_clean_batch_has_no_suspects_and_defects_are_named() -> None:
    typed = conform(activity_rows(100), BenchUserActivity, Failures())
    schema = validation_schema(BenchUserActivity)
    assert _listed(suspect_rows(typed, schema)) == []
    typed.loc[7, "a_score"] = 2.0
    typed.loc[9, "a_country"] = "XX"
    typed.loc[11, "user_id"] = typed.loc[3, "user_id"]
    typed.loc[11, ["event_timestamp", "created_timestamp"]] = typed.loc[
        3, ["event_timestamp", "created_timestamp"]
    ]
    assert _listed(suspect_rows(typed, schema)) == [3, 7, 9, 11]  # both copies of the key


def test_checks_that_may_look_at_the_whole_column_send_every_row_to_pandera() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    row_local = pa.DataFrameSchema({"x": pa.Column(float, pa.Check.ge(2))})
    element_wise = pa.DataFrameSchema(
        {"x": pa.Column(float, pa.Check(lambda v: v < 3, element_wise=True))}
    )
    column_wide = pa.DataFrameSchema({"x": pa.Column(float, pa.Check(lambda s: s > s.mean()))})
    frame_wide = pa.DataFrameSchema(
        {"x": pa.Column(float)}, checks=pa.Check(lambda df: df["x"] > 0)
    )
    wrong_type = pa.DataFrameSchema({"x": pa.Column(int)})
    assert _listed(suspect_rows(frame, row_local)) == [0]
    assert _listed(suspect_rows(frame, element_wise)) == [2]
    assert suspect_rows(frame, column_wide) is None
    assert suspect_rows(frame, frame_wide) is None
    assert suspect_rows(frame, wrong_type) is None


def test_text_columns_are_screened_by_their_distinct_values_exactly() -> None:
    """Each distinct value is checked once and every row holding a failed one is named; nulls
    are suspect where the column refuses them or a check does not ignore them."""
    n = 3 * prescreen.SAMPLE
    values = np.array(["GB", "FR", "DE"], dtype=object)[np.arange(n) % 3]
    frame = pd.DataFrame({"c": values.copy(), "d": values.copy(), "e": values.copy()})
    frame.loc[[5, 6000], "c"] = "XX"
    frame.loc[[7, 9000], ["c", "d", "e"]] = None
    schema = pa.DataFrameSchema(
        {
            "c": pa.Column(str, pa.Check.isin(["GB", "FR", "DE"])),
            "d": pa.Column(str, pa.Check.isin(["GB", "FR"]), nullable=True),
            "e": pa.Column(
                str,
                pa.Check(lambda v: v != "none", element_wise=True, ignore_na=False),
                nullable=True,
            ),
        }
    )
    assert prescreen._distinct(frame["c"]) is not None
    suspects = set(_listed(suspect_rows(frame, schema)) or [])
    de_rows = set(np.flatnonzero(values == "DE").tolist())
    assert suspects == {5, 6000, 7, 9000} | de_rows


def test_high_cardinality_or_mixed_columns_are_screened_row_by_row() -> None:
    n = 2 * prescreen.SAMPLE
    ids = pd.Series([f"id-{i}" for i in range(n)], dtype=object)
    mixed = pd.Series(["a", 1, 1.0, True] * (n // 4), dtype=object)
    assert prescreen._distinct(ids) is None
    assert prescreen._distinct(mixed) is None
    assert prescreen._distinct(ids.iloc[:100]) is None  # small: row by row is as cheap


def _listed(rows: np.ndarray | None) -> list[int] | None:
    return None if rows is None else rows.tolist()


def test_a_key_repeats_only_as_a_whole_and_in_its_order() -> None:
    """Rows sharing one key column, or holding the same values in swapped columns, do not
    repeat the key; every copy of a whole key does."""
    frame = pd.DataFrame({"a": [1, 2, 1, 1, 3], "b": [2, 1, 3, 2, 3], "c": ["x"] * 5})
    assert prescreen._may_repeat(frame, ["a", "b"]).tolist() == [True, False, False, True, False]
    assert prescreen._may_repeat(frame, ["a", "b", "c"]).tolist() == [
        True,
        False,
        False,
        True,
        False,
    ]
    assert not prescreen._may_repeat(frame, ["b", "a"])[[1, 2, 4]].any()
