"""`skewless init`: a new repository that loads, agrees with its contracts and applies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from services.cli_repo import init_command
from services.contracts.schema import column_specs, feast_fields, pandas_dtype, validation_schema
from services.errors import InputError
from services.governance import lint
from services.repository import load_repository
from services.scaffold import TEMPLATE_DIR, init_repository
from services.settings import reset_settings, settings_for_repo
from services.store import Store, load_definitions
from tests.demo_repo import import_path

ROOT = Path(__file__).resolve().parents[2]
OWNER = "growth-data@shop.example"


def _import(path: Path) -> ModuleType:
    return import_path(path, "_scaffold")  # type: ignore[no-any-return]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    target = tmp_path / "shop_repo"
    written = init_repository(target, project="shop", owner=OWNER)
    assert sorted(p.name for p in written) == [
        "definitions.py",
        "feature_store.yaml",
        "sample_data.py",
        "user_activity_contract.py",
        "user_request_contract.py",
    ]
    return target


def test_the_templates_ship_with_the_package_and_render_ruff_clean(repo: Path) -> None:
    assert TEMPLATE_DIR.is_relative_to(ROOT / "services")  # pyproject ships services/ whole
    python = sorted(str(p) for p in repo.glob("*.py"))
    config = ["--config", str(ROOT / "pyproject.toml"), "--no-cache"]
    for args in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [sys.executable, "-m", "ruff", *args, *config, *python], capture_output=True
        )
        assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    yaml = (repo / "feature_store.yaml").read_text()
    assert "project: shop\n" in yaml
    assert "registry: data/registry.db\n" in yaml
    assert "entity_key_serialization_version: 3" in yaml
    assert f'OWNER = "{OWNER}"' in (repo / "definitions.py").read_text()


def test_skewless_apply_finds_no_governance_problem(repo: Path) -> None:
    repository = load_repository(repo)
    assert sorted(repository.contracts) == ["user_activity", "user_request"]
    assert lint(repository.definitions, repository.contracts) == []


def test_the_views_declare_exactly_what_their_contracts_generate(repo: Path) -> None:
    definitions = load_definitions(repo)
    assert [e.join_key for e in definitions.entities] == ["user_id"]
    views = {v.name: v for v in definitions.feature_views}
    activity = _import(repo / "user_activity_contract.py").UserActivity
    request = _import(repo / "user_request_contract.py").UserRequest
    sources = {s.name: s for s in definitions.data_sources}
    for contract, declared in (
        (activity, views["user_activity"].features),
        (request, sources["user_request"].schema),
    ):
        expected = feast_fields(contract)
        assert [(f.name, f.dtype) for f in declared] == [(f.name, f.dtype) for f in expected]
        assert [f.description for f in declared] == [f.description for f in expected]
        assert [f.tags.get("owner") for f in declared] == [f.tags["owner"] for f in expected]
    specs = {c.name: c for c in column_specs(activity)}
    assert [c.name for c in specs.values() if c.role != "feature"] == [
        "user_id",
        "event_timestamp",
        "created_timestamp",
    ]
    embedding = specs["embedding"]
    assert (str(embedding.type), embedding.type.length) == ("Array(Float32)", 8)
    assert (specs["email_domain"].pii, specs["email_domain"].classification) == (
        True,
        "confidential",
    )
    assert all(c.owner == OWNER and c.description for c in specs.values())
    odfv = definitions.on_demand_feature_views[0]
    for output in odfv.features:
        assert odfv.tags[f"field.{output.name}.description"]
        assert odfv.tags[f"field.{output.name}.owner"] == OWNER
    assert definitions.feature_services[0].owner == OWNER


def test_the_sample_passes_the_contract_and_feast_applies_the_repository(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _import(repo / "sample_data.py").generate_sample(tmp_path / "samples", rows=50, seed=3)
    assert sorted(paths) == ["user_activity", "user_request"]
    activity = _import(repo / "user_activity_contract.py").UserActivity
    frame = pd.read_parquet(paths["user_activity"])
    assert str(frame["event_timestamp"].dtype) == "datetime64[us, UTC]"
    for spec in column_specs(activity):
        frame[spec.name] = frame[spec.name].astype(pandas_dtype(spec))
    validation_schema(activity).validate(frame, lazy=True)
    # The repository's feature_store.yaml names the project, registry and online store.
    for name in ("SKEWLESS_PROJECT", "SKEWLESS_REGISTRY_URL", "SKEWLESS_ONLINE_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SKEWLESS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SKEWLESS_ONLINE_STORE", "sqlite")
    reset_settings()
    try:
        settings = settings_for_repo(repo)
        assert settings.project == "shop"
        assert settings.effective_registry_url == str(repo / "data" / "registry.db")
        assert settings.online_sqlite_path == repo / "data" / "online_store.db"
        store = Store(settings)
        try:
            store.apply(load_definitions(repo))
            assert set(store.feature_views) == {"user_activity"}
            assert set(store.odfvs) == {"basket_vs_spend"}
        finally:
            store.close()
    finally:
        reset_settings()


def test_a_non_empty_directory_or_a_bad_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not an empty directory"):
        init_repository(tmp_path, project="shop", owner=OWNER)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    with pytest.raises(InputError, match="project 'my-shop'"):
        init_repository(tmp_path / "new", project="my-shop", owner=OWNER)
    with pytest.raises(InputError, match="owner"):
        init_repository(tmp_path / "new", project="shop", owner='a"b')
    assert not (tmp_path / "new").exists()


def test_the_command_writes_a_line_per_file_and_exits_2_on_a_non_empty_dir(
    tmp_path: Path,
) -> None:
    app = typer.Typer()
    app.command("init")(init_command)
    app.command("noop")(lambda: None)  # two commands: Typer keeps the group
    runner = CliRunner()
    args = ["init", str(tmp_path / "r"), "--project", "shop", "--owner", OWNER]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("wrote ") == 5
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert again.stderr.startswith("error: ")
