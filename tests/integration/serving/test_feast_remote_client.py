"""Feast's own remote online store client, unchanged, against ``skewless serve`` on Redis.

Feast's ``online_store: type: remote`` is pointed at the server's ``/feast`` surface with a
Skewless token (Feast's ``oidc`` auth with ``token_env_var``). For batch views its answers equal
Feast's own SDK reading the same Redis directly; for a feature service with an on-demand view
they equal Skewless's SDK (Feast's SDK cannot run a repository's on-demand code that calls the
repository's own modules: the registry keeps only the function's source). A token outside the
grants and an unknown feature service are raised by Feast's client as Feast's own exception
classes, parsed from the error body.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from feast import FeatureStore
from feast.errors import FeastPermissionError, FeatureServiceNotFoundException
from typer.testing import CliRunner

from services.cli import app
from services.online.materialize import materialize
from services.sdk import Client
from services.settings import Settings
from services.store import Store
from tests.integration.serving.conftest import ServerThread, load_project

pytestmark = pytest.mark.integration
runner = CliRunner()

FEATURES = [
    "customer_transactions_daily:txn_count_1d",
    "customer_transactions_daily:txn_amount_avg_30d",
    "customer_profile:country",
]
ROWS = [
    {"customer_id": 1, "transaction_amount": 12.5},
    {"customer_id": 2, "transaction_amount": 80.0},
    {"customer_id": 999_999, "transaction_amount": 1.0},  # no such customer
]


def _token(role: str, namespace: str) -> str:
    principal = f"feast-{role}-{namespace}"
    args = ["lineage", "token", "create", "--principal", principal, "--role", role]
    r = runner.invoke(app, [*args, "--namespace", namespace, "--json"])
    assert r.exit_code == 0, r.output
    return str(json.loads(r.output)["token"])


def _remote_store(tmp: Path, settings: Settings, url: str) -> FeatureStore:
    """A Feast repository whose online store is the Skewless server (Feast's remote client)."""
    registry = settings.effective_registry_url
    (tmp / "feature_store.yaml").write_text(
        f"project: {settings.project}\n"
        "provider: local\n"
        f"registry:\n  registry_type: sql\n  path: {registry}\n  cache_ttl_seconds: 0\n"
        f"online_store:\n  type: remote\n  path: {url}/feast\n"
        "auth:\n  type: oidc\n  token_env_var: SKEWLESS_TEST_FEAST_TOKEN\n"
        "offline_store:\n  type: file\n"
        "entity_key_serialization_version: 3\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FeatureStore(repo_path=str(tmp))


def _answer(store: FeatureStore, **kwargs: Any) -> dict[str, list[Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return store.get_online_features(entity_rows=ROWS, **kwargs).to_dict()


def test_feast_remote_client_reads_what_feasts_sdk_reads(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings("redis")
    monkeypatch.setenv("LINEAGE_DATABASE_URL", settings.effective_lineage_database_url)
    load_project(settings, tmp_path)
    store = Store(settings)
    materialize(store)
    assert runner.invoke(app, ["lineage", "migrate"]).exit_code == 0
    granted, outside = _token("consumer", "skewless"), _token("consumer", "finance")

    direct = _answer(store.feast, features=FEATURES)  # Feast's SDK on our Redis store
    assert direct["txn_count_1d"][:2] != [None, None]
    assert direct["country"][2] is None
    # Feast's SDK, configured by the yaml `skewless feast-yaml` writes, reads the same.
    sdk_repo = tmp_path / "sdk_repo"
    written = runner.invoke(app, ["feast-yaml", "--out", str(sdk_repo / "feature_store.yaml")])
    assert written.exit_code == 0, written.output
    assert "type: redis" in (sdk_repo / "feature_store.yaml").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _answer(FeatureStore(repo_path=str(sdk_repo)), features=FEATURES) == direct

    repo = tmp_path / "remote_repo"
    repo.mkdir()
    with ServerThread(settings) as srv:
        remote = _remote_store(repo, settings, srv.url)
        monkeypatch.setenv("SKEWLESS_TEST_FEAST_TOKEN", granted)
        assert _answer(remote, features=FEATURES) == direct
        by_service = _answer(remote, features=remote.get_feature_service("fraud_detection_v1"))
        entities = {"customer_id": [r["customer_id"] for r in ROWS]}
        amounts = {"transaction_amount": [r["transaction_amount"] for r in ROWS]}
        ours = Client(settings).online_features("fraud_detection_v1", entities, amounts)
        assert ours.columns
        for column in ours.columns:
            assert by_service[column.name] == column.values, column.name
        with pytest.raises(FeatureServiceNotFoundException, match="no_such_service"):
            httpx_free_unknown_service(remote)
        monkeypatch.setenv("SKEWLESS_TEST_FEAST_TOKEN", outside)
        with pytest.raises(FeastPermissionError, match="forbidden"):
            _answer(remote, features=FEATURES)
        # Feast's remote writer is refused with a reason, not written past the contracts.
        with httpx.Client(base_url=srv.url, timeout=10) as client:
            refused = client.post(
                "/write-to-online-store", json={"feature_view_name": "x", "df": {}}
            )
            assert refused.status_code == 404
            assert refused.json()["error"] == "not_served"
    store.close()


def httpx_free_unknown_service(remote: FeatureStore) -> None:
    """Ask Feast's remote client for a service only the server can say is unknown."""
    from feast.infra.online_stores.remote import get_remote_online_features

    response = get_remote_online_features(
        config=remote.config,
        req_body={"feature_service": "no_such_service", "entities": {"customer_id": [1]}},
    )
    raise AssertionError(f"expected Feast's client to raise, got {response.status_code}")


def test_feast_yaml_without_variables_is_the_documented_defaults(tmp_path: Path) -> None:
    """No SKEWLESS_* variable set: the embedded defaults (project skewless, SQLite under ./data)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKEWLESS_", "REDIS_"))}
    skewless = str(Path(sys.executable).parent / "skewless")
    out = subprocess.run(
        [skewless, "feast-yaml"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    config = yaml.safe_load(out.stdout)
    assert config["project"] == "skewless"
    assert config["online_store"] == {"type": "sqlite", "path": str(tmp_path / "data/online.db")}
    assert config["registry"]["path"] == f"sqlite:///{tmp_path / 'data/registry.db'}"
