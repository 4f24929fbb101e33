"""Training sets: hand-written DuckDB SQL (reference and limit) and the cell-by-cell check.

The reference applies the documented rule directly: for each entity row, the row of the
user with the greatest ``event_timestamp <= T`` (ties: greatest ``created_timestamp``),
invisible when created after T, null when its event time is before ``T - ttl``
(inclusive bounds). The limit is the fastest correct formulation we know: de-duplicate
each (user, event_timestamp) to its latest created row, then one ASOF LEFT JOIN per view.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from bench.data import PROFILE_TTL, STATS_TTL

STATS_FEATURES = [f"f_float_{i}" for i in range(10)] + [f"f_int_{i}" for i in range(10)]
PROFILE_FEATURES = ["p_age", "p_score", "p_country", "p_balance", "p_visits"]
FEATURES = STATS_FEATURES + PROFILE_FEATURES
VIEWS = (
    ("s", "user_stats", STATS_FEATURES, STATS_TTL),
    ("p", "user_profile", PROFILE_FEATURES, PROFILE_TTL),
)


def _connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def reference_sql(folder: Path) -> pd.DataFrame:
    """LEFT JOIN + QUALIFY row_number per view: the rule, written out."""
    con = _connect()
    out = con.sql(f"SELECT * FROM read_parquet('{folder / 'entities.parquet'}')").df()
    for alias, name, feats, ttl in VIEWS:
        cols = ", ".join(f"{alias}.{c}" for c in feats)
        micros = int(ttl.total_seconds() * 1_000_000)
        sql = f"""
            SELECT e.row_id, {cols}
            FROM read_parquet('{folder / "entities.parquet"}') e
            LEFT JOIN read_parquet('{folder / f"{name}.parquet"}') {alias}
              ON {alias}.user_id = e.user_id
             AND {alias}.event_timestamp <= e.event_timestamp
             AND {alias}.created_timestamp <= e.event_timestamp
             AND {alias}.event_timestamp >= e.event_timestamp - to_microseconds({micros})
            QUALIFY row_number() OVER (PARTITION BY e.row_id
                ORDER BY {alias}.event_timestamp DESC NULLS LAST,
                         {alias}.created_timestamp DESC NULLS LAST) = 1
        """
        part = con.sql(sql).df()
        out = out.merge(part, on="row_id", how="left")
    con.close()
    return out


def asof_sql(folder: Path) -> pd.DataFrame:
    """The limit: latest-created row per (user, event time), then ASOF LEFT JOIN per view."""
    con = _connect()
    selects, joins = [], []
    for alias, name, feats, ttl in VIEWS:
        micros = int(ttl.total_seconds() * 1_000_000)
        for c in feats:
            selects.append(
                f"CASE WHEN {alias}.event_timestamp >= e.event_timestamp - "
                f"to_microseconds({micros}) THEN {alias}.{c} END AS {c}"
            )
        joins.append(
            f"""ASOF LEFT JOIN (
                SELECT * FROM read_parquet('{folder / f"{name}.parquet"}')
                QUALIFY row_number() OVER (PARTITION BY user_id, event_timestamp
                                           ORDER BY created_timestamp DESC) = 1
            ) {alias} ON {alias}.user_id = e.user_id
                     AND {alias}.event_timestamp <= e.event_timestamp"""
        )
    sql = (
        f"SELECT e.*, {', '.join(selects)} "
        f"FROM read_parquet('{folder / 'entities.parquet'}') e {' '.join(joins)}"
    )
    out = con.sql(sql).df()
    con.close()
    return out


def _null_mask(series: pd.Series) -> np.ndarray:
    return series.isna().to_numpy(dtype=bool)


def compare(result: pd.DataFrame, reference: pd.DataFrame) -> dict[str, Any]:
    """Rows returned, rows missing, and cells that differ (nulls equal, floats exact).

    Values are compared as Python objects after aligning on ``row_id``, so an int that came
    back as a float still compares by value; such columns are counted in ``dtype_diffs``.
    """
    ref = reference.set_index("row_id").sort_index()
    got = result.drop_duplicates("row_id").set_index("row_id")
    common = ref.index.intersection(got.index)
    ref_c, got_c = ref.loc[common], got.loc[common]
    differ, dtype_diffs, per_column = 0, 0, {}
    for col in FEATURES:
        if col not in got_c.columns:
            per_column[col] = len(common)
            differ += len(common)
            continue
        a, b = ref_c[col], got_c[col]
        if str(pd.Series(a).dtype).lower() != str(pd.Series(b).dtype).lower():
            dtype_diffs += 1
        a_null, b_null = _null_mask(a), _null_mask(b)
        both = ~a_null & ~b_null
        a_val = a.to_numpy(dtype=object)[both]
        b_val = b.to_numpy(dtype=object)[both]
        same_values = np.fromiter(
            (x == y for x, y in zip(a_val, b_val, strict=True)), dtype=bool, count=len(a_val)
        )
        bad = int((a_null != b_null).sum()) + int((~same_values).sum())
        if bad:
            per_column[col] = bad
        differ += bad
    return {
        "rows_expected": len(ref),
        "rows_returned": len(result),
        "rows_missing": int(len(ref) - len(common)),
        "cells_differ": differ,
        "dtype_diffs": dtype_diffs,
        "columns_differ": per_column,
    }
