"""Sample files of the recsys repository's sources (what its team would point `infer` at)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd


def user_ids(users: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(users)]


def write_samples(
    out: Path, *, users: int = 40, items: int = 25, seed: int = 0, now: datetime | None = None
) -> dict[str, Path]:
    """Write ``<source>.parquet`` for each batch source; return the paths by source."""
    rng = np.random.default_rng(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    ids = user_ids(users, seed)
    out.mkdir(parents=True, exist_ok=True)
    day = pd.Timedelta(days=1)
    profile_rows = []
    for n, uid in enumerate(ids):
        for snapshot in range(2):
            ts = pd.Timestamp(now) - (2 - snapshot) * day
            profile_rows.append(
                {
                    "user_id": uid,
                    "event_timestamp": ts,
                    "created": ts + pd.Timedelta(hours=1),
                    "age": np.int32(18 + (n * 7) % 60),
                    "country": ["DE", "FR", "NL", "ES"][n % 4],
                    "premium": bool(n % 3 == 0),
                    "signup_at": pd.Timestamp(now) - pd.Timedelta(days=100 + n),
                    "embedding": rng.normal(0, 0.3, 16).astype("float32"),
                    "preferences": json.dumps({"newsletter": n % 2 == 0, "size": "M"}),
                    "last_order": None if n % 5 == 0 else json.dumps({"id": n, "total": 12.5}),
                }
            )
    affinity_rows = []
    for uid in ids:
        for item in rng.choice(np.arange(1, items + 1), size=3, replace=False):
            ts = pd.Timestamp(now) - pd.Timedelta(hours=int(rng.integers(1, 100)))
            affinity_rows.append(
                {
                    "user_id": uid,
                    "item_id": np.int32(item),
                    "event_timestamp": ts,
                    "created": ts,
                    "affinity": np.float32(rng.random()),
                    "views_7d": int(rng.integers(0, 50)),
                    "recent_queries": ["shoes", "red shoes"][: int(rng.integers(0, 3))],
                    "last_view_at": ts - pd.Timedelta(minutes=5),
                }
            )
    item_rows = [
        {
            "item_id": np.int32(i),
            "event_timestamp": pd.Timestamp(now) - pd.Timedelta(days=1),
            "price": round(float(rng.uniform(5, 300)), 2),
            "category": ["shoes", "bags", "coats"][i % 3],
            "thumbnail": rng.bytes(16),
            "dimensions": {"width_cm": float(10 + i), "height_cm": float(5 + i % 7)},
            "ratings": [int(x) for x in rng.integers(1, 6, size=int(rng.integers(0, 5)))],
        }
        for i in range(1, items + 1)
    ]
    paths = {}
    for name, rows in (
        ("user_profile", profile_rows),
        ("user_item_affinity", affinity_rows),
        ("item_catalog", item_rows),
    ):
        frame = pd.DataFrame(rows)
        for col in ("event_timestamp", "created", "signup_at", "last_view_at"):
            if col in frame:
                frame[col] = pd.to_datetime(frame[col], utc=True)
        path = out / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        paths[name] = path
    return paths
