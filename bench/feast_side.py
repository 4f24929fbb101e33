"""Feast's own side of the benchmark: a plain Feast repo over the same raw parquet files.

The definitions mirror ``bench/feature_repo`` (same entities, views, fields, ttl and service
names) but read the raw files directly, with absolute paths (the ``duckdb`` offline store
resolves relative paths from the working directory). The YAML file is also what
``feast serve`` reads.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from feast import Entity, FeatureService, FeatureStore, FeatureView, FileSource, ValueType

from bench.contracts import (
    BenchItemEmbedding,
    BenchUserActivity,
    BenchUserProfile,
    BenchUserStats,
)
from services.contracts import SourceContract
from services.contracts.schema import feast_fields, source_spec

YAML = """project: {project}
provider: local
registry:
{registry}
  cache_ttl_seconds: 60
online_store:
  type: redis
  connection_string: "{redis}"
offline_store:
  type: {offline}
entity_key_serialization_version: 3
"""


def feast_redis(url: str) -> str:
    """``redis://host:port/db`` as Feast's ``host:port,db=N`` connection string."""
    rest = url.split("://", 1)[1]
    host, _, db = rest.partition("/")
    return f"{host},db={db or 0}"


SQL_REGISTRY = "  registry_type: sql\n  path: sqlite:///{path}"
FILE_REGISTRY = "  registry_type: file\n  path: {path}"
# (offline store, registry) -> YAML file name; the SQL registry is what Skewless itself uses.
YAML_FILES = {
    ("file", "sql"): "feature_store.yaml",
    ("duckdb", "sql"): "feature_store_duckdb.yaml",
    ("file", "file"): "feature_store_file_registry.yaml",
}


def write_repo(folder: Path, project: str, redis_url: str) -> Path:
    """Write one YAML per (offline store, registry) of :data:`YAML_FILES`; return folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for (offline, registry), name in YAML_FILES.items():
        block = (
            SQL_REGISTRY.format(path=(folder / "registry.db").resolve())
            if registry == "sql"
            else FILE_REGISTRY.format(path=(folder / "registry.pb").resolve())
        )
        (folder / name).write_text(
            YAML.format(
                project=project, registry=block, redis=feast_redis(redis_url), offline=offline
            )
        )
    return folder


def yaml_file(folder: Path, offline: str = "file", registry: str = "sql") -> Path:
    return folder / YAML_FILES[(offline, registry)]


def open_store(folder: Path, offline: str = "file", registry: str = "sql") -> FeatureStore:
    name = YAML_FILES[(offline, registry)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FeatureStore(repo_path=str(folder), fs_yaml_file=folder / name)


def _user() -> Entity:
    return Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)


def _item() -> Entity:
    return Entity(name="item", join_keys=["item_id"], value_type=ValueType.STRING)


def _view(contract: type[SourceContract], path: Path, entity: Entity) -> FeatureView:
    spec = source_spec(contract)
    source = FileSource(
        name=spec.name,
        path=str(path.resolve()),
        timestamp_field="event_timestamp",
        created_timestamp_column="created_timestamp",
    )
    return FeatureView(
        name=spec.name,
        entities=[entity],
        ttl=spec.ttl,
        schema=feast_fields(contract),
        source=source,
        online=True,
    )


def objects(stats_path: Path, profile_path: Path) -> list[Any]:
    """Entity, two file sources, two views and ``bench_service``, Feast-only."""
    user = _user()
    stats = _view(BenchUserStats, stats_path, user)
    profile = _view(BenchUserProfile, profile_path, user)
    service = FeatureService(name="bench_service", features=[stats, profile])
    return [user, stats.batch_source, profile.batch_source, stats, profile, service]


def item_objects(items_path: Path) -> list[Any]:
    """The String-keyed ``item`` entity, the embedding view and ``bench_item_service``."""
    item = _item()
    view = _view(BenchItemEmbedding, items_path, item)
    service = FeatureService(name="bench_item_service", features=[view])
    return [item, view.batch_source, view, service]


def apply(
    store: FeatureStore,
    stats_path: Path,
    profile_path: Path,
    activity_path: Path | None = None,
    items_path: Path | None = None,
) -> None:
    """Apply :func:`objects`, plus the ingestion-only activity view and the item view if given."""
    applied = objects(stats_path, profile_path)
    if activity_path is not None:
        view = _view(BenchUserActivity, activity_path, applied[0])
        applied += [view.batch_source, view]
    if items_path is not None:
        applied += item_objects(items_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store.apply(applied)
