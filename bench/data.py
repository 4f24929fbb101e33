"""The reference data set: two sources and an entity frame, fixed seed, scaled.

At scale 1.0: ``user_stats`` 2,000,000 rows (10 float64 + 10 int64 features, ``f_int_9`` with
~1 % nulls, ttl 7 days), ``user_profile`` 200,000 rows (5 features incl. a string, ttl 10 days),
100,000 users over a 30-day window, 100,000 entity rows. Edge cases: ~0.5 % duplicate
(user_id, event_timestamp) with a later ``created_timestamp`` (and new values), ~1 % entity
rows exactly on a feature timestamp and ~1 % exactly at timestamp + ttl.

``created_timestamp`` is always <= ``event_timestamp`` so that engines which ignore the
"created after T is invisible" rule (Feast without ``filter_by_created_timestamp``) answer
the same question. The window ends at today's midnight UTC, so the values are fresh online.

``item_embedding`` (the String-keyed embedding view): 100,000 items with UUID text ids, one row
each plus as many again at random, ~0.5 % duplicates with a later created time; a 64-float
``embedding`` and 10 scalars (Float32, Float64, Int32, Int64 incl. ~2 % nulls, Bool, String).
Its ttl (45 days) exceeds the window, so every item's latest value is fresh online.

The ingestion benchmark has its own frame, written on demand by :func:`generate_activity`:
``user_activity`` with exactly ``1,000,000 x scale`` rows and the 25 columns of
``bench_user_activity``, ~0.1 % of them invalid (out of range, unknown category, duplicate key).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SEED = 42
WINDOW = timedelta(days=30)
STATS_TTL = timedelta(days=7)
PROFILE_TTL = timedelta(days=10)
ITEM_TTL = timedelta(days=45)
EMBEDDING_DIM = 64
CATEGORIES = np.array(["books", "music", "garden", "toys", "kitchen", "sports"], dtype=object)
COUNTRIES = np.array(["GB", "FR", "DE", "ES", "IT", "NL", "IE", "US"], dtype=object)
DEVICES = np.array(["ios", "android", "web"], dtype=object)
BAD_SHARE = 0.001


@dataclass(frozen=True)
class BenchData:
    """Paths and sizes of one generated data set."""

    folder: Path
    stats: Path
    profile: Path
    entities: Path
    stats_rows: int
    profile_rows: int
    users: int
    entity_rows: int
    window_start: datetime
    window_end: datetime
    items: Path
    item_rows: int
    item_count: int


def _window_end() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def _timestamps(start: datetime, seconds: np.ndarray) -> pd.Series:
    base = pd.Timestamp(start).as_unit("us")
    return pd.Series(base + pd.to_timedelta(seconds, unit="s"), name=None).astype(
        "datetime64[us, UTC]"
    )


def _with_duplicates(
    rng: np.random.Generator,
    frame: pd.DataFrame,
    share: float,
    features: dict[str, np.ndarray],
    key: str = "user_id",
) -> pd.DataFrame:
    """Append ``share`` of rows again with a later created time and new feature values."""
    frame = frame.drop_duplicates([key, "event_timestamp"]).reset_index(drop=True)
    n = int(len(frame) * share)
    picked = frame.iloc[rng.choice(len(frame), n, replace=False)].copy()
    later = rng.integers(0, 60, n)
    picked["created_timestamp"] = picked["event_timestamp"] - pd.to_timedelta(later, unit="s")
    for name, values in features.items():
        picked[name] = values[:n]
    out = pd.concat([frame, picked], ignore_index=True)
    return out.sample(frac=1.0, random_state=SEED).reset_index(drop=True)


def _keyed_frame(rng: np.random.Generator, n: int, users: int, start: datetime) -> pd.DataFrame:
    """``n`` rows of random users at random times in the window, created up to an hour earlier."""
    seconds = rng.integers(0, int(WINDOW.total_seconds()), n)
    frame = pd.DataFrame({"user_id": rng.integers(1, users + 1, n).astype("int64")})
    frame["event_timestamp"] = _timestamps(start, seconds)
    frame["created_timestamp"] = frame["event_timestamp"] - pd.to_timedelta(
        rng.integers(60, 3600, n), unit="s"
    )
    return frame


def _stats(rng: np.random.Generator, n: int, users: int, start: datetime) -> pd.DataFrame:
    frame = _keyed_frame(rng, n, users, start)

    def features(rows: int) -> dict[str, np.ndarray]:
        cols: dict[str, np.ndarray] = {}
        for i in range(10):
            cols[f"f_float_{i}"] = rng.random(rows) * 1000
        for i in range(10):
            cols[f"f_int_{i}"] = rng.integers(0, 1_000_000, rows)
        nulls = rng.random(rows) < 0.01
        cols["f_int_9"] = pd.array(np.where(nulls, 0, cols["f_int_9"]), dtype="Int64")
        cols["f_int_9"][nulls] = pd.NA
        return cols

    for name, values in features(n).items():
        frame[name] = values
    return _with_duplicates(rng, frame, 0.005, features(n))


def _profile(rng: np.random.Generator, n: int, users: int, start: datetime) -> pd.DataFrame:
    frame = _keyed_frame(rng, n, users, start)

    def features(rows: int) -> dict[str, np.ndarray]:
        return {
            "p_age": rng.integers(18, 100, rows),
            "p_score": rng.random(rows),
            "p_country": COUNTRIES[rng.integers(0, len(COUNTRIES), rows)],
            "p_balance": rng.random(rows) * 50_000,
            "p_visits": rng.integers(0, 10_000, rows),
        }

    for name, values in features(n).items():
        frame[name] = values
    return _with_duplicates(rng, frame, 0.005, features(n))


def _entities(
    rng: np.random.Generator, n: int, users: int, stats: pd.DataFrame, start: datetime
) -> pd.DataFrame:
    edge = max(1, n // 100)
    random_n = n - 2 * edge
    seconds = rng.integers(
        int(timedelta(days=3).total_seconds()), int(WINDOW.total_seconds()), random_n
    )
    plain = pd.DataFrame({"user_id": rng.integers(1, users + 1, random_n).astype("int64")})
    plain["event_timestamp"] = _timestamps(start, seconds)
    on_ts = stats.iloc[rng.choice(len(stats), edge, replace=False)][["user_id", "event_timestamp"]]
    end = start + WINDOW
    early = stats[stats["event_timestamp"] + STATS_TTL <= end]
    at_ttl = early.iloc[rng.choice(len(early), edge, replace=False)][["user_id", "event_timestamp"]]
    at_ttl = at_ttl.assign(event_timestamp=at_ttl["event_timestamp"] + STATS_TTL)
    out = pd.concat([plain, on_ts, at_ttl], ignore_index=True)
    out = out.sample(frac=1.0, random_state=SEED).reset_index(drop=True)
    out["row_id"] = np.arange(len(out), dtype="int64")
    return out


def generate(scale: float, folder: Path) -> BenchData:
    """Write ``user_stats``, ``user_profile`` and ``entities`` parquet files into ``folder``."""
    rng = np.random.default_rng(SEED)
    users = max(100, round(100_000 * scale))
    end = _window_end()
    start = end - WINDOW
    stats = _stats(rng, max(1000, round(2_000_000 * scale)), users, start)
    profile = _profile(rng, max(200, round(200_000 * scale)), users, start)
    entities = _entities(rng, max(200, round(100_000 * scale)), users, stats, start)
    for frame in (stats, profile, entities):
        for col in ("event_timestamp", "created_timestamp"):
            if col in frame:
                frame[col] = frame[col].astype("datetime64[us, UTC]")
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        name: folder / f"{name}.parquet" for name in ("user_stats", "user_profile", "entities")
    }
    stats.to_parquet(paths["user_stats"], index=False)
    profile.to_parquet(paths["user_profile"], index=False)
    entities.to_parquet(paths["entities"], index=False)
    items = max(100, round(100_000 * scale))
    item_path, item_rows = _write_items(np.random.default_rng(SEED + 2), items, start, folder)
    return BenchData(
        folder=folder,
        stats=paths["user_stats"],
        profile=paths["user_profile"],
        entities=paths["entities"],
        stats_rows=len(stats),
        profile_rows=len(profile),
        users=users,
        entity_rows=len(entities),
        window_start=start,
        window_end=end,
        items=item_path,
        item_rows=item_rows,
        item_count=items,
    )


def _item_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct UUID-4-like texts (36 characters), from the generator."""
    raw = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    ids = [str(uuid.UUID(bytes=row.tobytes())) for row in raw]
    return np.array(ids, dtype=object)


def _embeddings(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` float32 vectors of ``EMBEDDING_DIM`` in [-1, 1], one object cell each."""
    matrix = rng.uniform(-1, 1, (n, EMBEDDING_DIM)).astype(np.float32)
    cells = np.empty(n, dtype=object)
    cells[:] = list(matrix)
    return cells


def _items(rng: np.random.Generator, items: int, start: datetime) -> pd.DataFrame:
    ids = _item_ids(rng, items)
    n = 2 * items  # every item once, then as many rows again for random items
    pick = np.concatenate([np.arange(items), rng.integers(0, items, n - items)])
    frame = pd.DataFrame({"item_id": ids[pick]})
    frame["event_timestamp"] = _timestamps(start, rng.integers(0, int(WINDOW.total_seconds()), n))
    frame["created_timestamp"] = frame["event_timestamp"] - pd.to_timedelta(
        rng.integers(60, 3600, n), unit="s"
    )

    def features(rows: int) -> dict[str, np.ndarray]:
        clicks = pd.array(rng.integers(0, 50_000, rows), dtype="Int64")
        clicks[rng.random(rows) < 0.02] = pd.NA
        return {
            "embedding": _embeddings(rng, rows),
            "i_price": (rng.random(rows) * 500).astype(np.float32),
            "i_ctr": rng.random(rows).astype(np.float32),
            "i_rating": rng.random(rows) * 5,
            "i_margin": rng.random(rows) - 0.5,
            "i_stock": rng.integers(0, 10_000, rows).astype(np.int32),
            "i_age_days": rng.integers(0, 3650, rows).astype(np.int32),
            "i_views": rng.integers(0, 10**12, rows),
            "i_clicks_7d": clicks,
            "i_in_stock": rng.random(rows) < 0.8,
            "i_category": CATEGORIES[rng.integers(0, len(CATEGORIES), rows)],
        }

    for name, values in features(n).items():
        frame[name] = values
    return _with_duplicates(rng, frame, 0.005, features(n), key="item_id")


def _write_items(
    rng: np.random.Generator, items: int, start: datetime, folder: Path
) -> tuple[Path, int]:
    frame = _items(rng, items, start)
    for col in ("event_timestamp", "created_timestamp"):
        frame[col] = frame[col].astype("datetime64[us, UTC]")
    embedding = pa.array(frame.pop("embedding").tolist(), pa.list_(pa.float32()))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.add_column(3, "embedding", embedding)
    path = folder / "item_embedding.parquet"
    pq.write_table(table, path)
    return path, len(frame)


def _activity(rng: np.random.Generator, n: int, users: int, start: datetime) -> pd.DataFrame:
    frame = _keyed_frame(rng, n, users, start)
    frame["a_country"] = COUNTRIES[rng.integers(0, len(COUNTRIES), n)]
    frame["a_device"] = DEVICES[rng.integers(0, len(DEVICES), n)]
    frame["a_is_premium"] = rng.random(n) < 0.2
    frame["a_age"] = rng.integers(13, 121, n)
    sessions = pd.array(rng.integers(0, 200, n), dtype="Int64")
    sessions[rng.random(n) < 0.05] = pd.NA
    frame["a_sessions_7d"] = sessions
    frame["a_score"] = rng.random(n)
    for i in range(8):
        frame[f"f_float_{i}"] = rng.random(n) * 1000
    for i in range(8):
        frame[f"f_int_{i}"] = rng.integers(0, 1_000_000, n)
    # The invalid share: a third out of range, a third unknown category, a third duplicate keys.
    bad = rng.choice(n, max(3, int(n * BAD_SHARE)), replace=False)
    third = len(bad) // 3
    frame.loc[bad[:third], "a_score"] = 1.5
    frame.loc[bad[third : 2 * third], "a_country"] = "XX"
    originals = rng.choice(np.setdiff1d(np.arange(n), bad), len(bad) - 2 * third, replace=False)
    for key in ("user_id", "event_timestamp", "created_timestamp"):
        values = frame[key].array.copy()
        values[bad[2 * third :]] = values[originals]
        frame[key] = values
    for key in ("event_timestamp", "created_timestamp"):
        frame[key] = frame[key].astype("datetime64[us, UTC]")
    return frame


def generate_activity(scale: float, folder: Path) -> tuple[Path, int]:
    """Write the ingestion benchmark's 25-column ``user_activity`` frame; return path and rows."""
    rng = np.random.default_rng(SEED + 1)
    rows = max(1000, round(1_000_000 * scale))
    end = _window_end()
    frame = _activity(rng, rows, max(100, round(100_000 * scale)), end - WINDOW)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "user_activity.parquet"
    frame.to_parquet(path, index=False)
    return path, len(frame)
