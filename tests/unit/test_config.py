"""Configuration agrees: settings classes, .env.example, docker-compose, feature_store.yaml."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from services.settings import Settings, with_repo_yaml
from services.store import repo_config

ROOT = Path(__file__).resolve().parents[2]


def env_names(cls: type[BaseSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    names = set()
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.add(str(alias.choices[0]))
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def settings_classes() -> list[type[BaseSettings]]:
    classes: list[type[BaseSettings]] = [Settings]
    with contextlib.suppress(ModuleNotFoundError):
        classes.append(importlib.import_module("lineage.settings").LineageSettings)
    return classes


def test_every_setting_is_in_env_example() -> None:
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    for cls in settings_classes():
        missing = env_names(cls) - example
        assert not missing, f"{cls.__name__}: {sorted(missing)} not in .env.example"


def test_compose_services_ports_and_variables_agree_with_settings() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"redis", "postgres", "lineage", "setup", "serving"}
    for name in set(services) - {"setup"}:  # the one-shot job runs to completion instead
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    known = set().union(*(env_names(c) for c in settings_classes()))
    for name in ("lineage", "setup", "serving"):
        env = services[name]["environment"]
        unknown = set(env) - known
        assert not unknown, f"{name}: variables {sorted(unknown)} match no setting"
    serving = services["serving"]
    port = serving["command"][serving["command"].index("--port") + 1]
    assert f"{port}:{port}" in serving["ports"]
    assert serving["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert "migrate" in " ".join(services["lineage"]["command"])
    # The server starts on an applied, loaded repository: the job's data volume is its own.
    setup = services["setup"]
    assert setup["command"][:2] == ["skewless", "demo"]
    assert serving["depends_on"]["setup"] == {"condition": "service_completed_successfully"}
    assert setup["volumes"] == serving["volumes"]
    data_dir = serving["environment"]["SKEWLESS_DATA_DIR"]
    assert setup["command"][setup["command"].index("--data-dir") + 1] == data_dir
    assert any(v.endswith(f":{data_dir}") for v in serving["volumes"])
    # Databases come from the init script; the image has no POSTGRES_MULTIPLE_DATABASES.
    assert "POSTGRES_MULTIPLE_DATABASES" not in services["postgres"]["environment"]
    init = (ROOT / "docker" / "postgres-init.sql").read_text()
    for url in (
        serving["environment"][v] for v in ("SKEWLESS_REGISTRY_URL", "LINEAGE_DATABASE_URL")
    ):
        assert f"CREATE DATABASE {url.rsplit('/', 1)[1]};" in init


def test_feature_store_yaml_is_the_same_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feast.repo_config import load_repo_config

    monkeypatch.setenv("SKEWLESS_PROJECT", "yamlcheck")
    monkeypatch.setenv("SKEWLESS_DATA_DIR", str(tmp_path))
    settings = Settings(
        project="yamlcheck", data_dir=tmp_path, registry_url=f"sqlite:///{tmp_path}/registry.db"
    )
    ours = repo_config(settings)
    feasts = load_repo_config(ROOT / "feature_repo", ROOT / "feature_repo" / "feature_store.yaml")
    assert feasts.project == ours.project
    assert feasts.registry.path == ours.registry.path
    assert Path(feasts.online_store.path) == Path(ours.online_store.path)
    assert feasts.entity_key_serialization_version == ours.entity_key_serialization_version


def test_make_demo_keeps_all_its_state_in_its_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    # Regression: the Makefile exported SKEWLESS_DATA_DIR=./data, so the demo repository's
    # "${SKEWLESS_DATA_DIR}/online.db" was read, as Feast reads it, from feature_repo/: the
    # online store landed in feature_repo/data/ (untracked files in the checkout), the rest in
    # ./data.
    env = {k: v for k, v in os.environ.items() if k != "SKEWLESS_DATA_DIR"}
    shown = subprocess.run(
        ["make", "-n", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    data_dir = Path(shown.split("--data-dir ", 1)[1].split()[0])
    assert data_dir == ROOT / "data"
    monkeypatch.setenv("SKEWLESS_DATA_DIR", str(data_dir))
    settings = with_repo_yaml(Settings(repo_path=ROOT / "feature_repo", data_dir=data_dir))
    assert settings.online_sqlite_path == data_dir / "online.db"
    assert settings.effective_registry_url == f"sqlite:///{data_dir}/registry.db"


def test_the_default_repository_is_feast_s_layout_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: the default was always the demo repository shipped with Skewless, so in a
    # Feast project's root (feature_repo/ beside the user) `skewless apply` registered the
    # demo's card-fraud definitions instead of the project's.
    from services.settings import BUNDLED_REPO

    for name in ("SKEWLESS_REPO_PATH", "SKEWLESS_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert Settings().repo_path == BUNDLED_REPO  # no repository here: the demo's
    (tmp_path / "feature_repo").mkdir()
    assert Settings().repo_path == BUNDLED_REPO  # a folder of that name is not yet a repo
    (tmp_path / "feature_repo" / "feature_store.yaml").write_text("project: mine\n")
    assert Settings().repo_path == tmp_path / "feature_repo"
    assert with_repo_yaml(Settings()).project == "mine"


def test_production_profile_refuses_unsafe_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SKEWLESS_") or key.startswith("LINEAGE_"):
            monkeypatch.delenv(key)
    with pytest.raises(ValueError, match="production"):
        Settings(profile="production")
    assert Settings(profile="production", serve_token="a-long-random-token").profile == "production"


def test_the_scaled_compose_layout_names_real_settings_and_nodes() -> None:
    """docker-compose.scaled.yml: a 3+3 Redis Cluster, two lineage and two serving replicas."""
    scaled = yaml.safe_load((ROOT / "docker-compose.scaled.yml").read_text())
    services = scaled["services"]
    nodes = sorted(n for n in services if n.startswith("redis-") and n[6:].isdigit())
    assert len(nodes) == 6
    create = services["redis-cluster-init"]["command"][-1]
    assert all(f"{n}:6379" in create for n in nodes)
    assert "--cluster-replicas 1" in create
    known = set().union(*(env_names(c) for c in settings_classes()))
    for name in ("setup", "serving", "serving-2", "lineage-2"):
        env = services[name]["environment"]
        assert not set(env) - known, f"{name}: {sorted(set(env) - known)} match no setting"
    for name in ("setup", "serving", "serving-2"):
        env = services[name]["environment"]
        assert env["SKEWLESS_ONLINE_STORE"] == "redis_cluster"
        listed = sorted(p.split(":")[0] for p in env["SKEWLESS_REDIS_CLUSTER_NODES"].split(","))
        assert listed == nodes
    base = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["serving-2"]["command"] == base["serving"]["command"]
    # Spark: a master and a worker of the locked pyspark's version, on the shared data volume;
    # the setup job drives it.
    import pyspark

    for name in ("spark-master", "spark-worker"):
        assert services[name]["image"] == f"apache/spark:{pyspark.__version__}"
        assert "skewless-data:/data" in services[name]["volumes"]
    assert "spark://spark-master:7077" in services["spark-worker"]["command"]
    setup = services["setup"]["environment"]
    assert setup["SKEWLESS_OFFLINE_ENGINE"] == "spark"
    assert setup["SKEWLESS_SPARK_MASTER"] == "spark://spark-master:7077"
    assert json.loads(setup["SKEWLESS_SPARK_CONF"])["spark.driver.host"] == "setup"


_DATA_PLANE_VARIABLES = (
    "SKEWLESS_DATA_DIR",
    "LINEAGE_DATABASE_URL",
    "SKEWLESS_LINEAGE_DATABASE_URL",
)


@pytest.mark.parametrize(
    ("environment", "dotenv"),
    [
        ({}, ""),  # both defaults: ./data/lineage.db
        ({"SKEWLESS_DATA_DIR": "state"}, ""),
        ({}, "SKEWLESS_DATA_DIR=elsewhere/state\n"),
        ({}, "LINEAGE_DATABASE_URL=postgresql+psycopg://db.example/lineage\n"),
        ({"LINEAGE_DATABASE_URL": "sqlite:////srv/lineage.db"}, "SKEWLESS_DATA_DIR=x\n"),
        ({}, (ROOT / ".env.example").read_text()),  # its LINEAGE_DATABASE_URL= is empty
    ],
)
def test_the_lineage_cli_reads_the_database_the_data_plane_writes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, environment: dict[str, str], dotenv: str
) -> None:
    """Regression: with SKEWLESS_DATA_DIR set, ``skewless lineage summary`` read ./data."""
    from lineage.settings import LineageSettings

    monkeypatch.chdir(tmp_path)
    for name in _DATA_PLANE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    if dotenv:
        (tmp_path / ".env").write_text(dotenv)
    written = Settings().effective_lineage_database_url  # where the data plane writes lineage
    assert LineageSettings().database_url == written
    assert not (tmp_path / "data").exists()
