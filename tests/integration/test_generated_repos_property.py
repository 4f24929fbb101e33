"""Property: over generated repositories, training sets and online reads match the oracle.

Hypothesis draws a repository's shape (one or two entities with Int32, Int64 or String join
keys, one to five features of any stored type, nullable or not, a ttl; see
``tests/repo_factory.py``), writes it as a user's repository, applies it, and ingests batches
drawn on a coarse time grid: timestamp ties corrected by later created timestamps, rows
created in the future, events one microsecond either side of the grid, rows exactly at
``T - ttl``, nulls, arrays, documents and out-of-order batches. Every cell of the
point-in-time frame, and every entity's online answer at now, must equal the rule written
out plainly (``_oracle``), in the declared dtype. Online values come either from the ingests
themselves or, replaying a history, from ``materialize --incremental`` runs at increasing
instants: after each run the online answer at that instant must equal the oracle's, so a row
created after one run still reaches the online store at a later one. The same property runs
with the Spark engine (``local[2]``) on fewer examples: its training frames and materialized
values must meet the same oracle, 0 cells different.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from services.audits.parity import audit_parity
from services.contracts.types import FieldType
from services.ingestion.gate import ingest_frame
from services.offline.training import join_features
from services.online.materialize import materialize
from services.online.reader import OnlineReader, online_features
from services.online.values import python_value
from services.resolution import plan_service
from services.settings import Settings
from services.store import Store, load_definitions
from tests.repo_factory import (
    SERVICE,
    SOURCE,
    FeatureShape,
    RepoShape,
    feature_values,
    key_values,
    repo_shapes,
    write_repository,
)

BASE = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=400)
HALF_DAY = timedelta(hours=12)
# Rows are created up to 20 days after their event, so up to about 20 days after now: a gate
# that quarantines future rows (SKEWLESS_FUTURE_HORIZON) must let these through here.
HORIZON = "30d"
US = timedelta(microseconds=1)
_repos = itertools.count()

# The dtype a training frame holds each type in (every feature may be null there).
FRAME_DTYPES = {
    "Int32": "Int32",
    "Int64": "Int64",
    "Float32": "float32",
    "Float64": "float64",
    "Bool": "boolean",
    "UnixTimestamp": "datetime64[ns, UTC]",
}
# The Python type of each non-null value of an object column.
OBJECT_TYPES: dict[str, type] = {
    "String": str,
    "Bytes": bytes,
    "Array": list,
    "Map": dict,
    "Struct": dict,
}


@dataclass(frozen=True)
class Row:
    """One drawn source row: which entity, when, and its feature values (raw, as ingested)."""

    entity: tuple[int, ...]  # an index into each key's pool of values
    event: datetime
    created: datetime
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Seen:
    """A row as the oracle sees it: the batch it was written in (identical batches share)."""

    row: Row
    seq: int


# ---------------------------------------------------------------------------- drawing
def _rows(shape: RepoShape, pools: Sequence[int]) -> st.SearchStrategy[Row]:
    """Rows on a day grid (events) and half-day grid (created lag), +-1 microsecond."""
    offset = st.sampled_from([0, 1, -1]).map(lambda n: n * US)
    return st.builds(
        lambda entity, day, event_us, lag, created_us, values: Row(
            entity,
            BASE + timedelta(days=day) + event_us,
            BASE + timedelta(days=day) + lag * HALF_DAY + created_us,
            values,
        ),
        st.tuples(*(st.integers(0, n - 1) for n in pools)),
        st.integers(0, 16),
        offset,
        st.integers(0, 40),  # created up to 20 days after the event: often in the future
        offset,
        st.tuples(*(feature_values(f) for f in shape.features)),
    )


def _unique(rows: list[Row]) -> list[Row]:
    """Drop later copies of a (key, event, created): the contract rejects them in a batch."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for row in rows:
        key = (row.entity, row.event, row.created)
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


# ---------------------------------------------------------------------------- frames
def _key_column(ftype: FieldType, values: list[Any]) -> Any:
    if ftype.name == "Int32":
        return np.array(values, dtype=np.int32)
    if ftype.name == "Int64":
        return np.array(values, dtype=np.int64)
    return pd.Series(values, dtype=object)


def _feature_column(feature: FeatureShape, values: list[Any]) -> Any:
    """A column as a producer's parquet would hold it, in the contract's dtype."""
    name, nullable = feature.type.name, feature.nullable
    if name in ("Int32", "Int64"):
        return pd.array(values, dtype=name) if nullable else np.array(values, dtype=name.lower())
    if name in ("Float32", "Float64"):
        floats = [math.nan if v is None else v for v in values]
        return np.array(floats, dtype=name.lower())
    if name == "Bool":
        return pd.array(values, dtype="boolean") if nullable else np.array(values, dtype=bool)
    if name == "UnixTimestamp":
        return pd.Series(values, dtype="datetime64[ns, UTC]")
    return pd.Series(values, dtype=object)


def _frame(shape: RepoShape, pools: Sequence[Sequence[Any]], rows: list[Row]) -> pd.DataFrame:
    columns: dict[str, Any] = {
        k.name: _key_column(k.type, [pools[i][r.entity[i]] for r in rows])
        for i, k in enumerate(shape.keys)
    }
    columns["event_timestamp"] = pd.to_datetime([r.event for r in rows], utc=True)
    columns["created_timestamp"] = pd.to_datetime([r.created for r in rows], utc=True)
    for j, feature in enumerate(shape.features):
        columns[feature.name] = _feature_column(feature, [r.values[j] for r in rows])
    return pd.DataFrame(columns)


# ---------------------------------------------------------------------------- the oracle
def _latest(seen: list[Seen], entity: tuple[int, ...], at: datetime) -> Seen | None:
    """The row of ``entity`` visible at ``at`` with the greatest (event, created, batch)."""
    best = None
    for s in seen:
        r = s.row
        if r.entity != entity or r.event > at or r.created > at:
            continue
        if best is None or (r.event, r.created, s.seq) > (
            best.row.event,
            best.row.created,
            best.seq,
        ):
            best = s
    return best


def _oracle(
    shape: RepoShape, seen: list[Seen], entity: tuple[int, ...], at: datetime
) -> tuple[Any, ...] | None:
    """The features of ``entity`` at ``at``: the latest visible row, None outside the ttl."""
    best = _latest(seen, entity, at)
    if best is None:
        return None
    if shape.ttl > timedelta(0) and best.row.event < at - shape.ttl:
        return None
    return best.row.values


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same Python type all the way down (True is not 1, 1.0 is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# ---------------------------------------------------------------------------- the test
def _apply(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    backend: str,
    shape: RepoShape,
    engine: str = "duckdb",
) -> Store:
    """A fresh project and data dir for one example, with the generated repository applied."""
    repo = tmp_path / f"repo{next(_repos)}"
    extra = {"spark_master": "local[2]"} if engine == "spark" else {}
    settings = make_settings(
        backend, repo_path=repo, future_horizon=HORIZON, offline_engine=engine, **extra
    )
    write_repository(
        shape,
        repo,
        project=settings.project,
        data_dir=settings.data_dir,
        online_store=backend,
        redis_url=settings.redis_url,
    )
    store = Store(settings)
    store.apply(load_definitions(repo))
    return store


def _check_offline(
    store: Store,
    shape: RepoShape,
    pools: Sequence[Sequence[Any]],
    seen: list[Seen],
    entity_rows: list[tuple[tuple[int, ...], int]],
) -> None:
    plan = plan_service(store, SERVICE)
    entities = pd.DataFrame(
        {
            k.name: _key_column(k.type, [pools[i][e[i]] for e, _ in entity_rows])
            for i, k in enumerate(shape.keys)
        }
    )
    entities["event_timestamp"] = pd.to_datetime(
        [BASE + h * HALF_DAY for _, h in entity_rows], utc=True
    )
    got, _ = join_features(store, plan, entities)
    served = [f.name for f in shape.served_features]
    assert list(got.columns) == [*entities.columns, *served]
    assert len(got) == len(entity_rows)
    for k in shape.keys:
        assert got[k.name].tolist() == entities[k.name].tolist()
    for feature in shape.served_features:
        j = shape.features.index(feature)
        column = got[feature.name]
        name = feature.type.name
        assert str(column.dtype) == FRAME_DTYPES.get(name, "object"), (feature, column.dtype)
        for i, (entity, h) in enumerate(entity_rows):
            at = BASE + h * HALF_DAY
            row = _oracle(shape, seen, entity, at)
            expected = None if row is None else python_value(row[j], feature.type)
            actual = column.iloc[i]
            if column.dtype == object:  # documents, arrays, text, bytes: canonical as they are
                if actual is not None:
                    assert isinstance(actual, OBJECT_TYPES.get(name, object)), (feature, actual)
            else:
                actual = python_value(actual, feature.type)
            assert _same(actual, expected), (feature.name, entity, at, actual, expected)


def _check_online(
    store: Store,
    shape: RepoShape,
    pools: Sequence[Sequence[Any]],
    seen: list[Seen],
    at: datetime | None = None,
) -> None:
    """Every entity of the pools, online at ``at`` (now), against the oracle at that instant."""
    combos = list(itertools.product(*(range(len(p)) for p in pools)))
    keys = {k.name: [pools[i][c[i]] for c in combos] for i, k in enumerate(shape.keys)}
    reader = OnlineReader(store)
    try:
        now = at or datetime.now(UTC)
        result = online_features(reader, plan_service(store, SERVICE), keys, at=now)
    finally:
        reader.close()
    served = [f.name for f in shape.served_features]
    assert [c.name for c in result.columns] == [*sorted(keys), *served]  # keys sorted, as planned
    columns = {c.name: c for c in result.columns}
    for k in shape.keys:
        assert columns[k.name].values == keys[k.name]
    for feature in shape.served_features:
        j = shape.features.index(feature)
        column = columns[feature.name]
        for n, entity in enumerate(combos):
            latest = _latest(seen, entity, now)
            row = _oracle(shape, seen, entity, now)
            expected = None if row is None else python_value(row[j], feature.type)
            if latest is None:
                status, event = "NOT_FOUND", None
            else:
                event = latest.row.event
                status = (
                    "OUTSIDE_MAX_AGE"
                    if row is None
                    else "NULL_VALUE"
                    if expected is None
                    else "PRESENT"
                )
            got = (column.values[n], column.statuses[n], column.event_timestamps[n])
            assert _same(got[0], expected), (feature.name, entity, got, expected)
            assert got[1:] == (status, event), (feature.name, entity, got[1:], (status, event))


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("redis", marks=pytest.mark.integration)]
)
@settings(
    max_examples=50,
    # Each example applies a repository (about half a second), so shrinking a failure would
    # take minutes; the falsifying draws are printed and replayed from the example database.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shape=repo_shapes(), data=st.data())
def test_generated_repositories_agree_with_the_oracle(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    backend: str,
    shape: RepoShape,
    data: st.DataObject,
) -> None:
    _example(make_settings, tmp_path, backend, shape, data, "duckdb")


@pytest.mark.integration
@settings(
    # The same examples through Spark local[2] (the shared session): every Spark query costs
    # about a second, so fewer of them; DuckDB above covers the breadth.
    max_examples=12,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shape=repo_shapes(), data=st.data())
def test_generated_repositories_agree_with_the_oracle_on_spark(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    spark_session: object,
    shape: RepoShape,
    data: st.DataObject,
) -> None:
    _example(make_settings, tmp_path, "sqlite", shape, data, "spark")


def _example(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    backend: str,
    shape: RepoShape,
    data: st.DataObject,
    engine: str,
) -> None:
    pools = [
        data.draw(st.lists(key_values(k.type), min_size=2, max_size=3, unique=True), k.name)
        for k in shape.keys
    ]
    sizes = [len(p) for p in pools]
    batches = data.draw(
        st.lists(st.lists(_rows(shape, sizes), min_size=1, max_size=8), min_size=1, max_size=4),
        "batches",
    )
    entity_rows = data.draw(
        st.lists(
            st.tuples(st.tuples(*(st.integers(0, n - 1) for n in sizes)), st.integers(0, 36)),
            min_size=1,
            max_size=20,
        ),
        "entity rows",
    )
    # Replay: ingest offline only, then materialize incrementally at increasing instants (on
    # the half-day grid, up to just before now) and once more at now.
    replay = data.draw(st.booleans(), "replay")
    instants = sorted(set(data.draw(st.lists(st.integers(0, 33), max_size=3), "instants")))
    store = _apply(make_settings, tmp_path, backend, shape, engine)
    try:
        seen: list[Seen] = []
        versions: list[str] = []
        for batch in batches:
            rows = _unique(batch)
            result = ingest_frame(
                store, SOURCE, _frame(shape, pools, rows), update_online=not replay
            )
            assert result.accepted, (shape.describe(), result)
            assert result.quarantined == 0, (shape.describe(), result)
            # Re-ingesting identical rows is the same version: it keeps its place in the order.
            assert result.dataset_version is not None
            if result.dataset_version not in versions:
                versions.append(result.dataset_version)
            seq = versions.index(result.dataset_version)
            seen += [Seen(row, seq) for row in rows]
        _check_offline(store, shape, pools, seen, entity_rows)
        if replay:
            for step in instants:
                at = BASE + step * HALF_DAY
                materialize(store, incremental=True, at=at)
                _check_online(store, shape, pools, seen, at)
            materialize(store, incremental=True)
        _check_online(store, shape, pools, seen)
        # Feast's own get_online_features reads exactly what we wrote, for this key kind and type.
        parity = audit_parity(store, sample=None)
        assert parity.passed, (shape.describe(), parity.mismatches[:5])
    finally:
        store.close()
