"""A repository's own feature_store.yaml is honoured; explicit settings override it."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.errors import InputError
from services.settings import Settings, with_repo_yaml
from services.store import repo_config

YAML = """
project: recsys
provider: local
registry: data/registry.db
online_store:
  type: redis
  connection_string: "127.0.0.1:6379,db=3,password=s3cret"
entity_key_serialization_version: 3
"""


def _repo(tmp_path: Path, text: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "feature_store.yaml").write_text(text)
    return repo


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith(("SKEWLESS_", "REDIS_URL")):
            monkeypatch.delenv(key)


def test_the_repository_yaml_gives_project_registry_and_online_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    repo = _repo(tmp_path, YAML)
    settings = with_repo_yaml(Settings(repo_path=repo, data_dir=tmp_path / "d"))
    assert settings.project == "recsys"
    assert settings.online_store == "redis"
    assert settings.redis_url == "redis://:s3cret@127.0.0.1:6379/3"
    assert settings.registry_url == str(repo / "data" / "registry.db")
    config = repo_config(settings)
    assert config.registry.registry_type == "file"
    assert config.registry.path == str(repo / "data" / "registry.db")


def test_explicit_settings_override_the_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    repo = _repo(tmp_path, YAML)
    monkeypatch.setenv("SKEWLESS_PROJECT", "mine")
    monkeypatch.setenv("SKEWLESS_ONLINE_STORE", "sqlite")
    settings = with_repo_yaml(Settings(repo_path=repo))
    assert settings.project == "mine"
    assert settings.online_store == "sqlite"


def test_unset_variables_leave_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _clean_env(monkeypatch)
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    repo = _repo(tmp_path, "project: ${NOT_SET_ANYWHERE}\n")
    assert with_repo_yaml(Settings(repo_path=repo)).project == "skewless"


def test_an_online_store_skewless_cannot_use_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    repo = _repo(tmp_path, "project: p\nonline_store:\n  type: dynamodb\n")
    with pytest.raises(InputError, match="online_store type 'dynamodb' is not supported"):
        with_repo_yaml(Settings(repo_path=repo))


def test_an_explicit_online_store_lets_a_yaml_with_another_onboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The error says SKEWLESS_ONLINE_STORE chooses another; then the rest of the yaml is read."""
    _clean_env(monkeypatch)
    repo = _repo(tmp_path, "project: p\nonline_store:\n  type: postgres\n  host: db\n")
    with pytest.raises(InputError, match="SKEWLESS_ONLINE_STORE chooses one instead"):
        with_repo_yaml(Settings(repo_path=repo))
    monkeypatch.setenv("SKEWLESS_ONLINE_STORE", "sqlite")
    settings = with_repo_yaml(Settings(repo_path=repo))
    assert (settings.online_store, settings.project) == ("sqlite", "p")


@pytest.mark.parametrize(
    ("online", "kind"),
    [
        ("online_store:\n  path: data/online_store.db\n", "sqlite"),  # `feast init -t spark`
        ("online_store: sqlite\n", "sqlite"),
        ("online_store: redis\n", "redis"),
        ("online_store:\n  type: feast.infra.online_stores.sqlite.SqliteOnlineStore\n", "sqlite"),
    ],
)
def test_the_online_store_is_what_feast_reads_from_the_same_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, online: str, kind: str
) -> None:
    """Feast defaults a missing type to sqlite and takes a bare type name or a class path."""
    import yaml
    from feast.repo_config import RepoConfig

    _clean_env(monkeypatch)
    text = f"project: p\nprovider: local\nregistry: data/registry.db\n{online}"
    repo = _repo(tmp_path, text)
    settings = with_repo_yaml(Settings(repo_path=repo, data_dir=tmp_path / "d"))
    assert settings.online_store == kind
    feasts = RepoConfig(**yaml.safe_load(text), repo_path=repo).online_store
    assert type(feasts).__name__.lower().startswith(kind)
    if "path:" in online:
        assert settings.online_path == repo / "data" / "online_store.db"


def test_feasts_redis_cluster_config_is_read_and_written_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    text = YAML.replace(
        'connection_string: "127.0.0.1:6379,db=3,password=s3cret"',
        'redis_type: redis_cluster\n  connection_string: "10.0.0.1:7000,10.0.0.2:7001,ssl=false"',
    )
    settings = with_repo_yaml(Settings(repo_path=_repo(tmp_path, text), data_dir=tmp_path / "d"))
    assert settings.online_store == "redis_cluster"
    assert settings.cluster_nodes == [("10.0.0.1", 7000), ("10.0.0.2", 7001)]
    online = repo_config(settings).online_store
    assert online.redis_type == "redis_cluster"
    assert online.connection_string == "10.0.0.1:7000,10.0.0.2:7001"


def test_a_cluster_without_nodes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    with pytest.raises(ValueError, match="SKEWLESS_REDIS_CLUSTER_NODES"):
        Settings(online_store="redis_cluster", data_dir=tmp_path)
    with pytest.raises(ValueError, match="not host:port"):
        Settings(online_store="redis_cluster", redis_cluster_nodes="10.0.0.1", data_dir=tmp_path)


def test_a_spark_offline_store_selects_the_spark_engine_with_its_conf(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        "project: p\noffline_store:\n  type: spark\n  spark_conf:\n"
        '    spark.master: "spark://head:7077"\n    spark.sql.shuffle.partitions: 8\n',
    )
    settings = with_repo_yaml(Settings(repo_path=repo))
    assert settings.offline_engine == "spark"
    assert settings.spark_master == "spark://head:7077"
    assert settings.spark_conf == {"spark.sql.shuffle.partitions": "8"}
    (tmp_path / "b").mkdir()
    plain = with_repo_yaml(Settings(repo_path=_repo(tmp_path / "b", "project: p\n")))
    assert (plain.offline_engine, plain.spark_master) == ("duckdb", "local[*]")
