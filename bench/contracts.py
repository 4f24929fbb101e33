"""Pandera contracts of the benchmark sources, registered with Skewless by name.

``bench_user_stats`` and ``bench_user_profile`` feed the training, materialization and
serving benchmarks; ``bench_user_activity`` (25 columns of mixed types) is only ingested;
``bench_item_embedding`` (String key, a 64-float embedding and 10 scalars) feeds the
embedding materialization and read rows.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from services.contracts import SourceContract

UtcTimestamp = Annotated[pd.DatetimeTZDtype, "ns", "UTC"]
OWNER = "bench@skewless.example"
STATS = "bench_user_stats"
PROFILE = "bench_user_profile"
ACTIVITY = "bench_user_activity"
ITEM_EMBEDDING = "bench_item_embedding"
CATEGORIES = ("books", "music", "garden", "toys", "kitchen", "sports")
COUNTRIES = ("GB", "FR", "DE", "ES", "IT", "NL", "IE", "US")
DEVICES = ("ios", "android", "web")


def _user_id() -> pa.typing.common.Any:
    return pa.Field(ge=1, description="User surrogate key.", metadata={"role": "entity"})


def _event_ts() -> pa.typing.common.Any:
    return pa.Field(description="Event time (UTC).", metadata={"role": "timestamp"})


def _created_ts() -> pa.typing.common.Any:
    return pa.Field(description="When the row was computed (UTC).", metadata={"role": "timestamp"})


def _float(i: int) -> pa.typing.common.Any:
    return pa.Field(ge=0, le=1000, description=f"Synthetic float feature {i}.")


def _int(i: int, nullable: bool = False) -> pa.typing.common.Any:
    return pa.Field(
        ge=0, le=1_000_000, nullable=nullable, description=f"Synthetic integer feature {i}."
    )


class BenchUserStats(SourceContract):
    """Per-user activity statistics: 10 float and 10 integer features."""

    user_id: Series[int] = _user_id()
    event_timestamp: Series[UtcTimestamp] = _event_ts()
    created_timestamp: Series[UtcTimestamp] = _created_ts()
    f_float_0: Series[float] = _float(0)
    f_float_1: Series[float] = _float(1)
    f_float_2: Series[float] = _float(2)
    f_float_3: Series[float] = _float(3)
    f_float_4: Series[float] = _float(4)
    f_float_5: Series[float] = _float(5)
    f_float_6: Series[float] = _float(6)
    f_float_7: Series[float] = _float(7)
    f_float_8: Series[float] = _float(8)
    f_float_9: Series[float] = _float(9)
    f_int_0: Series[int] = _int(0)
    f_int_1: Series[int] = _int(1)
    f_int_2: Series[int] = _int(2)
    f_int_3: Series[int] = _int(3)
    f_int_4: Series[int] = _int(4)
    f_int_5: Series[int] = _int(5)
    f_int_6: Series[int] = _int(6)
    f_int_7: Series[int] = _int(7)
    f_int_8: Series[int] = _int(8)
    f_int_9: Series[pd.Int64Dtype] = _int(9, nullable=True)

    class Config:
        name = STATS
        description = "Benchmark: per-user activity statistics."
        metadata = {
            "owner": OWNER,
            "entity": "user",
            "ttl_hours": 24 * 7,
            "cadence_hours": 24,
            "default_policy": "quarantine",
        }


class BenchUserProfile(SourceContract):
    """Per-user profile snapshots, including a string feature."""

    user_id: Series[int] = _user_id()
    event_timestamp: Series[UtcTimestamp] = _event_ts()
    created_timestamp: Series[UtcTimestamp] = _created_ts()
    p_age: Series[int] = pa.Field(ge=0, le=150, description="Age in years.")
    p_score: Series[float] = pa.Field(ge=0, le=1, description="Synthetic score.")
    p_country: Series[str] = pa.Field(isin=list(COUNTRIES), description="Country code.")
    p_balance: Series[float] = pa.Field(ge=0, le=1e6, description="Account balance.")
    p_visits: Series[int] = pa.Field(ge=0, le=1_000_000, description="Visits so far.")

    class Config:
        name = PROFILE
        description = "Benchmark: per-user profile snapshots."
        metadata = {
            "owner": OWNER,
            "entity": "user",
            "ttl_hours": 24 * 10,
            "cadence_hours": 24 * 7,
            "default_policy": "quarantine",
        }


class BenchUserActivity(SourceContract):
    """Per-user activity events for the ingestion benchmark: 25 columns of mixed types.

    Keys and timestamps, 8 float and 8 integer features with ranges, a nullable integer,
    two categorical strings, a flag, a bounded integer and a bounded score.
    """

    user_id: Series[int] = _user_id()
    event_timestamp: Series[UtcTimestamp] = _event_ts()
    created_timestamp: Series[UtcTimestamp] = _created_ts()
    a_country: Series[str] = pa.Field(isin=list(COUNTRIES), description="Country code.")
    a_device: Series[str] = pa.Field(isin=list(DEVICES), description="Device family.")
    a_is_premium: Series[bool] = pa.Field(description="Paying subscriber.")
    a_age: Series[int] = pa.Field(in_range={"min_value": 13, "max_value": 120}, description="Age.")
    a_sessions_7d: Series[pd.Int64Dtype] = pa.Field(
        ge=0, le=10_000, nullable=True, description="Sessions in the last 7 days, if known."
    )
    a_score: Series[float] = pa.Field(
        in_range={"min_value": 0, "max_value": 1}, description="Engagement score."
    )
    f_float_0: Series[float] = _float(0)
    f_float_1: Series[float] = _float(1)
    f_float_2: Series[float] = _float(2)
    f_float_3: Series[float] = _float(3)
    f_float_4: Series[float] = _float(4)
    f_float_5: Series[float] = _float(5)
    f_float_6: Series[float] = _float(6)
    f_float_7: Series[float] = _float(7)
    f_int_0: Series[int] = _int(0)
    f_int_1: Series[int] = _int(1)
    f_int_2: Series[int] = _int(2)
    f_int_3: Series[int] = _int(3)
    f_int_4: Series[int] = _int(4)
    f_int_5: Series[int] = _int(5)
    f_int_6: Series[int] = _int(6)
    f_int_7: Series[int] = _int(7)

    class Config:
        name = ACTIVITY
        description = "Benchmark: per-user activity events (ingestion only)."
        metadata = {
            "owner": OWNER,
            "entity": "user",
            "ttl_hours": 24 * 7,
            "cadence_hours": 24,
            "default_policy": "quarantine",
        }


class BenchItemEmbedding(SourceContract):
    """Per-item snapshots keyed by UUID text: a 64-float embedding and 10 scalars.

    The scalars cover the other online encodings: Float32, Float64, Int32, Int64 (one of
    them nullable), Bool and String.
    """

    item_id: Series[str] = pa.Field(
        str_length={"min_value": 36, "max_value": 36},
        description="Item UUID, as text.",
        metadata={"role": "entity"},
    )
    event_timestamp: Series[UtcTimestamp] = _event_ts()
    created_timestamp: Series[UtcTimestamp] = _created_ts()
    embedding: Series[object] = pa.Field(
        description="64-dimensional item embedding from the two-tower model.",
        metadata={"type": "Array(Float32)", "length": 64, "element_ge": -1, "element_le": 1},
    )
    i_price: Series[np.float32] = pa.Field(ge=0, le=10_000, description="List price.")
    i_ctr: Series[np.float32] = pa.Field(ge=0, le=1, description="Click-through rate.")
    i_rating: Series[float] = pa.Field(ge=0, le=5, description="Mean review rating.")
    i_margin: Series[float] = pa.Field(ge=-1, le=1, description="Margin share of the price.")
    i_stock: Series[np.int32] = pa.Field(ge=0, le=1_000_000, description="Units in stock.")
    i_age_days: Series[np.int32] = pa.Field(ge=0, le=36_500, description="Days since listing.")
    i_views: Series[int] = pa.Field(ge=0, description="Page views so far.")
    i_clicks_7d: Series[pd.Int64Dtype] = pa.Field(
        ge=0, nullable=True, description="Clicks in the last 7 days, if known."
    )
    i_in_stock: Series[bool] = pa.Field(description="Available to order.")
    i_category: Series[str] = pa.Field(isin=list(CATEGORIES), description="Catalogue category.")

    class Config:
        name = ITEM_EMBEDDING
        description = "Benchmark: per-item embeddings and catalogue facts (String key)."
        metadata = {
            "owner": OWNER,
            "entity": "item",
            "ttl_hours": 24 * 45,
            "cadence_hours": 24,
            "default_policy": "quarantine",
        }
