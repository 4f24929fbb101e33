"""``skewless online`` from the serving plan: the full path's answer, without importing Feast.

Each comparison runs the real command as a user does, twice: once with the plan written at
apply (the fast path) and once with the plan file removed (the full path: Feast's registry,
the repository's code), and the two JSON answers must be identical. The repositories are the
card-fraud demo (an on-demand view with request data) and a generated one with a composite
String + Int32 key and a feature of every kind Skewless stores, on SQLite, the real Redis and
a real Redis Cluster. The SQLite reader both paths share is compared with Feast's own
``online_read``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import redis
from typer.testing import CliRunner

from services.cli import app
from services.contracts.types import FieldType
from services.ingestion.gate import ingest_frame
from services.online.codec import decode_column
from services.online.keys import entity_key, from_epoch_micros, marker_key, ts_key
from services.online.state import lost_state_reason
from services.online.stores.sqlite_read import SqliteReader
from services.plan_stamp import current_stamp
from services.resolution import plan_service
from services.serving_plan import load_service_plan, plan_path, write_serving_plan
from services.settings import Settings
from services.store import Store, load_definitions
from tests.pg import temporary_database
from tests.repo_factory import SERVICE, SOURCE, FeatureShape, KeyShape, RepoShape, write_repository

ROOT = Path(__file__).resolve().parents[2]
DEMO_SERVICE = "fraud_detection_v2"
NOW = datetime.now(UTC).replace(microsecond=0)
STRUCT = FieldType(
    "Struct",
    fields=(
        ("width", FieldType("Int64")),
        ("label", FieldType("String")),
        ("at", FieldType("UnixTimestamp")),
        ("flag", FieldType("Bool")),
    ),
)
SHAPE = RepoShape(
    keys=(
        KeyShape("ent_zone", "zone", FieldType("String")),
        # Declared without value_type: its Int32 comes from the contract (see repo_factory).
        KeyShape("ent_user_id", "user_id", FieldType("Int32"), typed=False),
    ),
    features=(
        FeatureShape("f_i32", FieldType("Int32"), True),
        FeatureShape("f_i64", FieldType("Int64"), False),
        FeatureShape("f_f32", FieldType("Float32"), True),
        FeatureShape("f_f64", FieldType("Float64"), False),
        FeatureShape("f_str", FieldType("String"), True),
        FeatureShape("f_bytes", FieldType("Bytes"), True),
        FeatureShape("f_bool", FieldType("Bool"), True),
        FeatureShape("f_ts", FieldType("UnixTimestamp"), True),
        FeatureShape("f_vec", FieldType("Array", FieldType("Float32"), length=3), True),
        FeatureShape("f_tags", FieldType("Array", FieldType("String")), True),
        FeatureShape("f_ints", FieldType("Array", FieldType("Int64")), False),
        FeatureShape("f_map", FieldType("Map"), True),
        FeatureShape("f_json", FieldType("Json"), True),
        FeatureShape("f_struct", STRUCT, True),
    ),
    ttl=timedelta(hours=24),
)
# (zone, user_id, hours before now of the event, values present): fresh, fresh with every
# nullable feature null, and older than the ttl.
ROWS = (("north", 1, 2, True), ("süd", -7, 5, False), ("north", 2, 50, True))


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKEWLESS_", "LINEAGE_"))}
    env.update(
        SKEWLESS_DATA_DIR=str(settings.data_dir),
        SKEWLESS_PROJECT=settings.project,
        SKEWLESS_ONLINE_STORE=settings.online_store,
        SKEWLESS_REPO_PATH=str(settings.repo_path),
        SKEWLESS_REDIS_CLUSTER_NODES=settings.redis_cluster_nodes,
        REDIS_URL=settings.redis_url,
        LINEAGE_DATABASE_URL=f"sqlite:///{settings.data_dir / 'lineage.db'}",
        PYTHONPATH=str(ROOT),
    )
    return env


# The command as the console script runs it, reporting which Feast and Pandera modules it
# imported on stderr's last line.
_RUN = """
import json, sys
from services.cli import app
try:
    app(sys.argv[1:], prog_name="skewless")
finally:
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("feast", "pandera"))
    print(json.dumps(loaded), file=sys.stderr)
"""


def _online(settings: Settings, *args: str) -> tuple[int, str, str, list[str]]:
    """``skewless online ARGS --json``: exit code, stdout, stderr, Feast/Pandera modules."""
    done = subprocess.run(
        [sys.executable, "-c", _RUN, "online", *args, "--json"],
        env=_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    *lines, loaded = done.stderr.rstrip("\n").split("\n")
    return done.returncode, done.stdout, "\n".join(lines), json.loads(loaded)


def _fast_and_full(settings: Settings, *args: str) -> tuple[str, str]:
    """The JSON answer with the plan (imports no Feast), then without it (rewrites the plan)."""
    code, fast, err, loaded = _online(settings, *args)
    assert code == 0, err
    assert loaded == [], loaded
    plan_path(settings).unlink()
    code, full, err, loaded = _online(settings, *args)
    assert code == 0, err
    assert "feast" in loaded  # the full path really was taken
    assert load_service_plan(settings, args[0].removeprefix("--service=")) is not None
    return fast, full


# ----------------------------------------------------------------------------- the demo
@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The demo's whole flow, once, in a fresh data dir (SQLite online store)."""
    data = tmp_path_factory.mktemp("plan-demo") / "data"
    settings = Settings(
        data_dir=data,
        project="skewless",
        online_store="sqlite",
        repo_path=ROOT / "feature_repo",
    )
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "demo", "--data-dir", str(data), "--size", "10"],
        env=_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert plan_path(settings).is_file(), "demo applies, so it writes the plan"
    return settings


@pytest.mark.parametrize(
    "args",
    [
        ("customer_id=1", "merchant_id=1", "transaction_amount=3.0"),
        ("customer_id=999999", "merchant_id=2", "transaction_amount=0.5"),
    ],
    ids=["known", "unknown-customer"],
)
def test_demo_fast_path_answers_as_the_full_path(
    demo_settings: Settings, args: tuple[str, str, str]
) -> None:
    customer, merchant, amount = args
    fast, full = _fast_and_full(
        demo_settings,
        f"--service={DEMO_SERVICE}",
        f"--entity={customer}",
        f"--entity={merchant}",
        f"--request={amount}",
    )
    assert fast == full
    rows = json.loads(fast)
    assert rows[-1]["feature"] == "amount_minus_avg_30d"  # the on-demand view ran


def test_usage_errors_stay_one_line_on_the_fast_path(demo_settings: Settings) -> None:
    code, out, err, loaded = _online(demo_settings, "--service=nope", "--entity=customer_id=1")
    assert (code, out, err, loaded) == (2, "", "error: unknown feature service 'nope'", [])
    code, _, err, loaded = _online(
        demo_settings, f"--service={DEMO_SERVICE}", "--entity=customer_id=x"
    )
    assert code == 2
    assert err.startswith("error: --entity 'customer_id=x': not of type Int64"), err
    assert loaded == []


# ----------------------------------------------------------------- a generated repository
def _column(feature: FeatureShape, items: list[Any]) -> Any:
    name = feature.type.name
    if name in ("Int32", "Int64"):
        return pd.array(items, dtype=name) if feature.nullable else np.array(items, name.lower())
    if name in ("Float32", "Float64"):
        return np.array([np.nan if v is None else v for v in items], dtype=name.lower())
    if name == "Bool":
        return pd.array(items, dtype="boolean")
    if name == "UnixTimestamp":
        return pd.Series(items, dtype="datetime64[ns, UTC]")
    return pd.Series(items, dtype=object)


def _value(feature: FeatureShape, i: int, present: bool) -> Any:
    """A value of every kind for row ``i`` (None for a nullable feature when not present)."""
    if not present and feature.nullable:
        return None
    return {
        "f_i32": -(2**31) + i,
        "f_i64": 2**40 + i,
        "f_f32": 1.5 * i,
        "f_f64": 0.1 * i,
        "f_str": f"zeile {i} ✓",
        "f_bytes": bytes([i, 0, 255]),
        "f_bool": i % 2 == 0,
        "f_ts": NOW - timedelta(days=400, seconds=i),
        "f_vec": [0.5, -1.0, float(i)],
        "f_tags": ["a", str(i)],
        "f_ints": [i, -i, 2**62],
        "f_map": {"k": i, "nested": {"x": "y"}, "list": [1.5, 2.5]},
        "f_json": json.dumps({"a": [i, None, "t"], "b": {"c": True}}),
        "f_struct": {"width": i, "label": None, "at": NOW - timedelta(hours=i), "flag": True},
    }[feature.name]


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("redis", marks=pytest.mark.integration),
        pytest.param("redis_cluster", marks=pytest.mark.integration),
    ]
)
def typed_store(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[Store]:
    """The generated repository applied (plan written as by apply), its rows ingested."""
    yield from _typed_store(request.param, request, make_settings, tmp_path)


@pytest.fixture
def typed_sqlite_store(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[Store]:
    """``typed_store`` on the embedded SQLite online store only."""
    yield from _typed_store("sqlite", request, make_settings, tmp_path)


@pytest.fixture
def typed_redis_store(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], tmp_path: Path
) -> Iterator[Store]:
    """``typed_store`` on one Redis only."""
    yield from _typed_store("redis", request, make_settings, tmp_path)


def _typed_store(
    kind: str,
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
) -> Iterator[Store]:
    repo = tmp_path / "typed_repo"
    extra = {}
    if kind == "redis_cluster":
        extra["redis_cluster_nodes"] = request.getfixturevalue("redis_cluster").nodes
    settings = make_settings(kind, repo_path=repo, **extra)
    write_repository(
        SHAPE,
        repo,
        project=settings.project,
        data_dir=settings.data_dir,
        online_store=settings.online_store,
        redis_url=settings.redis_url,
    )
    store = Store(settings)
    store.apply(load_definitions(repo))
    write_serving_plan(store)
    frame = pd.DataFrame(
        {
            "zone": pd.Series([r[0] for r in ROWS], dtype=object),
            "user_id": np.array([r[1] for r in ROWS], dtype=np.int32),
            "event_timestamp": pd.to_datetime(
                [NOW - timedelta(hours=r[2], microseconds=7) for r in ROWS], utc=True
            ),
            "created_timestamp": pd.to_datetime([NOW - timedelta(hours=1)] * len(ROWS), utc=True),
            **{
                f.name: _column(f, [_value(f, i, r[3]) for i, r in enumerate(ROWS)])
                for f in SHAPE.features
            },
        }
    )
    result = ingest_frame(store, SOURCE, frame)
    assert result.written == len(ROWS), result
    yield store
    store.close()


@pytest.mark.parametrize("entity", [("north", 1), ("süd", -7), ("north", 2), ("west", 1)], ids=str)
def test_typed_repository_fast_path_answers_as_the_full_path(
    typed_store: Store, entity: tuple[str, int]
) -> None:
    zone, user = entity
    fast, full = _fast_and_full(
        typed_store.settings,
        f"--service={SERVICE}",
        f"--entity=zone={zone}",
        f"--entity=user_id={user}",
    )
    assert fast == full
    statuses = {r["feature"]: r["status"] for r in json.loads(fast)}
    expected = {
        ("north", 1): "PRESENT",
        ("süd", -7): "NULL_VALUE",
        ("north", 2): "OUTSIDE_MAX_AGE",
        ("west", 1): "NOT_FOUND",
    }[entity]
    assert statuses["f_struct"] == expected


def test_sqlite_reader_reads_as_feasts_online_read(typed_sqlite_store: Store) -> None:
    typed_store = typed_sqlite_store
    read = plan_service(typed_store, SERVICE).views[0]
    keys = [(zone, user) for zone, user, _, _ in ROWS] + [("west", 1)]
    ours = SqliteReader(typed_store.settings.online_sqlite_path, typed_store.project).read(
        read, keys
    )
    fv = typed_store.feature_views[read.view]
    feasts = typed_store.online_store().online_read(
        typed_store.config, fv, [entity_key(read.key_columns, k) for k in keys], None
    )
    types = {f.name: f.type for f in read.features}
    assert len(ours) == len(feasts) == 4
    for (ts, values), (feast_ts, feast_values) in zip(ours, feasts, strict=True):
        if feast_values is None:
            assert (ts, values) == (None, None)
            continue
        exact = feast_values[ts_key(read.view)].int64_val
        assert ts == from_epoch_micros(exact)
        assert feast_ts == from_epoch_micros(exact).replace(microsecond=0)
        assert values == {
            n: decode_column([v.SerializeToString()], types[n])[0]
            for n, v in feast_values.items()
            if n in types
        }


# --------------------------------------------------------------------------- staleness
def test_a_reapply_or_an_edit_makes_the_plan_stale(typed_store: Store) -> None:
    settings = typed_store.settings
    assert load_service_plan(settings, SERVICE) is not None
    repo = settings.repo_path
    definitions = (repo / "definitions.py").read_text()

    # A re-apply that changes the view (its ttl): the plan no longer matches the registry.
    (repo / "definitions.py").write_text(definitions.replace("seconds=86400", "seconds=3600"))
    stamp = current_stamp(settings)
    typed_store.apply(load_definitions(repo))
    assert load_service_plan(settings, SERVICE) is None
    assert current_stamp(settings) != stamp
    write_serving_plan(typed_store)
    plan = load_service_plan(settings, SERVICE)
    assert plan is not None
    assert plan.views[0].ttl == timedelta(hours=1)

    # An edit of the repository's code, not yet applied: stale too (its contracts and
    # functions are part of the answer).
    (repo / "contracts.py").write_text((repo / "contracts.py").read_text() + "\n# edited\n")
    assert load_service_plan(settings, SERVICE) is None


def test_the_full_path_rewrites_a_stale_plan(typed_store: Store) -> None:
    settings = typed_store.settings
    repo = settings.repo_path
    (repo / "definitions.py").write_text(
        (repo / "definitions.py").read_text().replace("seconds=86400", "seconds=7200")
    )
    typed_store.apply(load_definitions(repo))  # as a Feast-side apply would, without a plan
    assert load_service_plan(settings, SERVICE) is None
    code, out, err, loaded = _online(
        settings, f"--service={SERVICE}", "--entity=zone=north", "--entity=user_id=2"
    )
    assert code == 0, err
    assert "feast" in loaded
    plan = load_service_plan(settings, SERVICE)
    assert plan is not None
    assert plan.views[0].ttl == timedelta(hours=2)
    code, again, err, loaded = _online(
        settings, f"--service={SERVICE}", "--entity=zone=north", "--entity=user_id=2"
    )
    assert (code, loaded) == (0, [])
    assert again == out


@pytest.mark.integration
def test_a_lost_redis_view_is_reported_on_the_fast_path(typed_redis_store: Store) -> None:
    """Only a Redis store can lose its values behind our back (the cluster keeps its markers
    the same way)."""
    settings = typed_redis_store.settings
    client = redis.Redis.from_url(settings.redis_url)
    try:
        assert client.delete(marker_key(settings.project)) == 1  # as a restart would
    finally:
        client.close()
    args = (f"--service={SERVICE}", "--entity=zone=north", "--entity=user_id=1")
    code, fast, err, loaded = _online(settings, *args)
    assert (code, loaded) == (0, [])
    assert err == f"warning: {lost_state_reason([SOURCE])}"
    plan_path(settings).unlink()
    code, full, full_err, loaded = _online(settings, *args)
    assert (code, full, full_err) == (0, fast, err)
    assert "feast" in loaded


@pytest.fixture(params=["postgresql", "file"])
def other_registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A registry other than the default SQLite file: PostgreSQL, or Feast's file registry."""
    if request.param == "file":
        yield str(tmp_path / "registry.pb")
        return
    with temporary_database("plan_registry") as url:
        yield url


@pytest.mark.integration
def test_the_stamp_follows_every_kind_of_registry(
    make_settings: Callable[..., Settings], tmp_path: Path, other_registry: str
) -> None:
    repo = tmp_path / "typed_repo"
    settings = make_settings("sqlite", repo_path=repo, registry_url=other_registry)
    write_repository(SHAPE, repo, project=settings.project, data_dir=settings.data_dir)
    store = Store(settings)
    try:
        store.apply(load_definitions(repo))
        assert write_serving_plan(store) is not None
        assert load_service_plan(settings, SERVICE) is not None
        # Another process re-applies a change (without touching this data dir's plan).
        other = Store(settings)
        try:
            views = load_definitions(repo)
            views.feature_views[0].ttl = timedelta(hours=3)
            other.apply(views)
        finally:
            other.close()
        assert load_service_plan(settings, SERVICE) is None
    finally:
        store.close()


def test_skewless_apply_writes_a_current_plan(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    repo = tmp_path / "typed_repo"
    settings = make_settings("sqlite", repo_path=repo)
    write_repository(SHAPE, repo, project=settings.project, data_dir=settings.data_dir)
    assert load_service_plan(settings, SERVICE) is None
    result = CliRunner().invoke(app, ["apply", "--repo", str(repo)])
    assert result.exit_code == 0, result.output
    plan = load_service_plan(settings, SERVICE)
    assert plan is not None
    assert [f.name for f in plan.views[0].features] == [f.name for f in SHAPE.features]
