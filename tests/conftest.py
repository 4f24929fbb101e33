"""Shared fixtures: a fresh project per test, on SQLite or on the real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from services.settings import Settings, get_settings, reset_settings
from services.store import Store, load_definitions
from tests.cluster import RedisClusterProcesses

REDIS_URL = "redis://127.0.0.1:6379/0"


def _purge_redis_project(project: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        pattern = b"*" + project.encode()
        batch = []
        for key in client.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 500:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)
    finally:
        client.close()


@pytest.fixture
def make_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Settings]]:
    """Build settings for a unique project and data dir; the env matches them."""
    projects: list[str] = []

    def factory(
        online_store: str = "sqlite", redis_url: str = REDIS_URL, **overrides: object
    ) -> Settings:
        project = f"t{uuid.uuid4().hex[:12]}"
        projects.append(project)
        data_dir = tmp_path / project
        monkeypatch.setenv("SKEWLESS_DATA_DIR", str(data_dir))
        monkeypatch.setenv("SKEWLESS_PROJECT", project)
        monkeypatch.setenv("SKEWLESS_ONLINE_STORE", online_store)
        monkeypatch.setenv("REDIS_URL", redis_url)
        for key, value in overrides.items():
            monkeypatch.setenv(f"SKEWLESS_{key.upper()}", str(value))
        reset_settings()
        return get_settings()

    yield factory
    reset_settings()
    for project in projects:
        _purge_redis_project(project)


@pytest.fixture
def sqlite_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings("sqlite")


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcesses]:
    """One real Redis Cluster (three masters, three replicas) for the whole test run."""
    cluster = RedisClusterProcesses(tmp_path_factory.mktemp("redis-cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("redis", marks=pytest.mark.integration),
        pytest.param("redis_cluster", marks=pytest.mark.integration),
    ]
)
def any_settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Settings:
    """Run a test on the SQLite online store, the real Redis and a real Redis Cluster."""
    if request.param == "redis_cluster":
        cluster: RedisClusterProcesses = request.getfixturevalue("redis_cluster")
        return make_settings("redis_cluster", redis_cluster_nodes=cluster.nodes)
    return make_settings(request.param)


@pytest.fixture
def applied_store(any_settings: Settings) -> Iterator[Store]:
    store = Store(any_settings)
    store.apply(load_definitions(any_settings.repo_path))
    yield store
    store.close()


@pytest.fixture(scope="session")
def spark_session() -> Iterator[object]:
    """One real local[2] SparkSession for the whole test run (lean: 2 shuffle partitions, no UI).

    The Spark engine's own ``getOrCreate`` then returns this session.
    """
    from services.offline.spark_engine import spark_session as start

    session = start(
        "local[2]",
        {
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.driver.memory": "1g",
            "spark.ui.showConsoleProgress": "false",
        },
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.integration)])
def engine_settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Settings:
    """Settings on each point-in-time engine (Spark on the shared local[2] session)."""
    if request.param == "spark":
        request.getfixturevalue("spark_session")
        return make_settings("sqlite", offline_engine="spark", spark_master="local[2]")
    return make_settings("sqlite", offline_engine="duckdb")
