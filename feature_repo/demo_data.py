"""Realistic raw files for the card-fraud demo, with every edge case built in.

Writes ``<source>.parquet`` per source plus ``entities.parquet`` (entity rows for
a training set). The data hold late-arriving rows (created long after their
event), same-timestamp corrections with a later created timestamp, entity rows
exactly on the ttl edge, and a small share of invalid rows that the contracts
must quarantine.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from contracts import COUNTRIES, MERCHANT_CATEGORIES, CustomerProfile, CustomerTransactionsDaily

from services.contracts.schema import source_spec


@dataclass(frozen=True)
class DemoFiles:
    paths: dict[str, Path]
    entities: Path
    invalid_rows: dict[str, int]


def _day_grid(
    rng: np.random.Generator, ids: np.ndarray, days: int, end: pd.Timestamp
) -> pd.DataFrame:
    start = end.floor("D") - pd.Timedelta(days=days)
    day = np.arange(days + 1)
    grid = pd.DataFrame({"id": np.repeat(ids, len(day)), "day": np.tile(day, len(ids))})
    # Not every entity reports every day; some stop early (their values later expire).
    keep = rng.random(len(grid)) < 0.85
    grid = grid[keep].reset_index(drop=True)
    grid["event_timestamp"] = start + pd.to_timedelta(grid["day"], unit="D")
    grid = grid[grid["event_timestamp"] <= end]
    created_lag = pd.to_timedelta(rng.integers(60, 180, len(grid)), unit="min")
    grid["created_timestamp"] = grid["event_timestamp"] + created_lag
    # A row created after ``end`` has not arrived yet (today's rows, in the first hours of a day).
    grid = grid[grid["created_timestamp"] <= end]
    return grid.reset_index(drop=True)


def _late_and_corrections(
    rng: np.random.Generator, frame: pd.DataFrame, end: pd.Timestamp
) -> pd.DataFrame:
    """Append same-timestamp corrections (later created) and mark some rows as late."""
    n = len(frame)
    frame = frame.copy()
    late = rng.random(n) < 0.02
    frame.loc[late, "created_timestamp"] = end - pd.Timedelta(minutes=5)
    fix = frame.sample(frac=0.01, random_state=int(rng.integers(1 << 30)))
    fix = fix.assign(created_timestamp=fix["created_timestamp"] + pd.Timedelta(hours=1))
    fix = fix[fix["created_timestamp"] <= end]
    return pd.concat([frame, fix], ignore_index=True)


def customer_transactions(
    rng: np.random.Generator, customers: int, days: int, end: pd.Timestamp
) -> pd.DataFrame:
    g = _day_grid(rng, np.arange(1, customers + 1), days, end)
    n = len(g)
    base_amount = rng.lognormal(3.5, 0.6, customers + 1)[g["id"]]
    count_1d = rng.poisson(3, n)
    avg30 = np.round(base_amount * rng.uniform(0.9, 1.1, n), 2)
    frame = pd.DataFrame(
        {
            "customer_id": g["id"].astype("int64"),
            "event_timestamp": g["event_timestamp"],
            "created_timestamp": g["created_timestamp"],
            "txn_count_1d": count_1d.astype("int64"),
            "txn_amount_sum_1d": np.round(count_1d * base_amount * rng.uniform(0.5, 1.5, n), 2),
            "txn_amount_avg_30d": np.where(rng.random(n) < 0.03, np.nan, avg30),
            "txn_count_30d": rng.poisson(90, n).astype("int64"),
            "declined_count_7d": rng.poisson(0.3, n).astype("int64"),
            "chargeback_count_90d": pd.array(
                [
                    None if m else int(v)
                    for m, v in zip(rng.random(n) < 0.1, rng.poisson(0.05, n), strict=True)
                ],
                dtype="Int64",
            ),
        }
    )
    # The dispute feed has not reported for ~10% of customer-days: a nullable integer.
    frame.loc[rng.random(n) < 0.1, "chargeback_count_90d"] = pd.NA
    return _late_and_corrections(rng, frame, end)


def customer_profile(
    rng: np.random.Generator, customers: int, days: int, end: pd.Timestamp
) -> pd.DataFrame:
    g = _day_grid(rng, np.arange(1, customers + 1), days, end)
    g = g[rng.random(len(g)) < 0.12].reset_index(drop=True)  # weekly-ish snapshots
    n = len(g)
    ids = g["id"].to_numpy()
    salt = "demo-salt"
    frame = pd.DataFrame(
        {
            "customer_id": ids.astype("int64"),
            "event_timestamp": g["event_timestamp"],
            "created_timestamp": g["created_timestamp"],
            "account_age_days": (rng.integers(30, 4000, customers + 1)[ids] + g["day"]).astype(
                "int64"
            ),
            "country": np.array(COUNTRIES)[rng.integers(0, len(COUNTRIES), customers + 1)[ids]],
            "postcode_hash": [
                hashlib.sha256(f"{salt}:{i % 997}".encode()).hexdigest() for i in ids
            ],
            "credit_limit": np.round(rng.choice([500.0, 1000.0, 2500.0, 5000.0, 10000.0], n), 2),
            "kyc_verified": rng.random(n) < 0.95,
        }
    )
    return _late_and_corrections(rng, frame, end)


def merchant_risk(
    rng: np.random.Generator, merchants: int, days: int, end: pd.Timestamp
) -> pd.DataFrame:
    g = _day_grid(rng, np.arange(1, merchants + 1), days, end)
    n = len(g)
    ids = g["id"].to_numpy()
    frame = pd.DataFrame(
        {
            "merchant_id": ids.astype("int64"),
            "event_timestamp": g["event_timestamp"],
            "created_timestamp": g["created_timestamp"],
            "merchant_category": np.array(MERCHANT_CATEGORIES)[
                rng.integers(0, len(MERCHANT_CATEGORIES), merchants + 1)[ids]
            ],
            "fraud_rate_30d": np.round(rng.beta(1, 200, n), 6),
            "chargeback_rate_30d": np.round(rng.beta(1, 100, n), 6),
            "txn_volume_30d": rng.poisson(5000, n).astype("int64"),
        }
    )
    return _late_and_corrections(rng, frame, end)


def _inject_invalid(
    rng: np.random.Generator, frame: pd.DataFrame, share: float
) -> tuple[pd.DataFrame, int]:
    """Break a share of rows, one defect each: out of range, null, bad category, duplicate key."""
    frame = frame.copy()
    k = max(4, int(len(frame) * share))
    idx = rng.choice(len(frame), size=k, replace=False)
    numeric = [
        c
        for c in frame.columns
        if c.endswith(("_1d", "_7d", "_30d", "_days")) and frame[c].dtype.kind in "if"
    ]
    for j, i in enumerate(idx):
        kind = j % 4
        if kind == 0 and numeric:
            col = numeric[j % len(numeric)]
            frame[col] = (
                frame[col].astype("float64") if frame[col].dtype.kind == "f" else frame[col]
            )
            frame.loc[i, col] = -1
        elif kind == 1:
            if "country" in frame:
                frame.loc[i, "country"] = "XX"
            else:
                frame.loc[i, "txn_count_1d"] = 99_999
        elif kind == 2:
            if "txn_amount_sum_1d" in frame:
                frame.loc[i, "txn_amount_sum_1d"] = np.nan
            else:
                frame.loc[i, "credit_limit"] = np.nan
        else:
            frame = pd.concat([frame, frame.iloc[[i]]], ignore_index=True)
    return frame, k


def demo_entities(
    rng: np.random.Generator, customers: int, merchants: int, end: pd.Timestamp, rows: int
) -> pd.DataFrame:
    """Entity rows for a training set, some exactly on a ttl edge and on a feature timestamp."""
    ts = end - pd.to_timedelta(rng.integers(0, 14 * 24 * 3600, rows), unit="s")
    ts = ts.floor("s")
    frame = pd.DataFrame(
        {
            "customer_id": rng.integers(1, customers + 1, rows).astype("int64"),
            "merchant_id": rng.integers(1, merchants + 1, rows).astype("int64"),
            "event_timestamp": ts,
            "transaction_amount": np.round(rng.lognormal(3.6, 0.9, rows), 2),
        }
    )
    ttl = source_spec(CustomerTransactionsDaily).ttl
    edge = rng.random(rows) < 0.05
    day = frame["event_timestamp"].dt.floor("D")
    frame.loc[edge, "event_timestamp"] = day[edge] + pd.Timedelta(ttl)  # exactly ts + ttl
    on_ts = rng.random(rows) < 0.05
    frame.loc[on_ts, "event_timestamp"] = day[on_ts]  # exactly on a feature timestamp
    frame["event_timestamp"] = frame["event_timestamp"].clip(upper=end)
    _ = CustomerProfile  # profile ttl edges come from weekly snapshots against a 30-day ttl
    return frame


def write_demo_data(
    out: Path, *, seed: int = 7, customers: int = 500, days: int = 21, now: datetime | None = None
) -> DemoFiles:
    """Write the demo's raw files into ``out`` and return where they are."""
    rng = np.random.default_rng(seed)
    end = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC").floor("min")
    end = end.tz_convert("UTC") if end.tzinfo else end.tz_localize("UTC")
    merchants = max(10, customers // 5)
    out.mkdir(parents=True, exist_ok=True)
    frames = {
        "customer_transactions_daily": _inject_invalid(
            rng, customer_transactions(rng, customers, days, end), 0.005
        ),
        "customer_profile": _inject_invalid(
            rng, customer_profile(rng, customers, days + 20, end), 0.005
        ),
        # Merchant data are clean: the source's default policy is reject; the demo shows it pass.
        "merchant_risk": (merchant_risk(rng, merchants, days, end), 0),
    }
    paths = {}
    for name, (frame, _) in frames.items():
        path = out / f"{name}.parquet"
        frame.sample(frac=1.0, random_state=seed).to_parquet(path, index=False)
        paths[name] = path
    entities = out / "entities.parquet"
    demo_entities(rng, customers, merchants, end, rows=max(100, customers * 4)).to_parquet(
        entities, index=False
    )
    return DemoFiles(
        paths=paths, entities=entities, invalid_rows={n: k for n, (_, k) in frames.items()}
    )


def late_corrections(latest: pd.DataFrame, count: int) -> pd.DataFrame:
    """Corrections of some customers' latest rows: same event time, created now, new values."""
    frame = (
        latest.sort_values(["event_timestamp", "created_timestamp"]).groupby("customer_id").tail(1)
    )
    fix = frame.head(count).copy()
    fix["created_timestamp"] = pd.Timestamp.now(tz="UTC").floor("s")
    fix["txn_count_1d"] = fix["txn_count_1d"] + 1
    return fix


def demo_files(out: Path, *, seed: int, size: int, days: int = 21) -> DemoFiles:
    """The demo's raw files for ``size`` customers (what ``skewless demo`` calls)."""
    return write_demo_data(out, seed=seed, customers=size, days=days)


# What `skewless demo` does with this repository (the platform names none of it).
DEMO = {
    "write_data": demo_files,
    "late_source": "customer_transactions_daily",
    "late_corrections": late_corrections,
    "service": "fraud_detection_v2",
    "training_set": "fraud-demo",
    "model": "fraud-model",
    "lookup_entities": {"customer_id": [1], "merchant_id": [1]},
    "lookup_request": {"transaction_amount": [120.0]},
}

__all__ = ["DEMO", "DemoFiles", "timedelta", "write_demo_data"]
