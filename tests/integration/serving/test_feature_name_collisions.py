"""Two views answering the same feature name: refused unless full feature names are asked for.

Feast raises ``FeatureNameCollisionError`` when a request would return two features under one
name; the feature server answered 200 with the name twice, so a client building a frame by
name kept one of them without knowing. A copy of the demo repository gets a feature service
reading ``customer_profile``'s ``country`` twice, once under an alias.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from services.settings import Settings
from services.store import Store, load_definitions
from tests.integration.serving.conftest import ServerThread

ROOT = Path(__file__).resolve().parents[3]
TWICE = """
from feast import FeatureService

from definitions import RISK_TEAM, customer_profile

country_twice = FeatureService(
    name="country_twice",
    features=[
        customer_profile[["country"]],
        customer_profile[["country"]].with_name("profile_again"),
    ],
    owner=RISK_TEAM,
    description="The country under the view's name and under an alias.",
)
"""


@pytest.fixture
def settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "twice.py").write_text(TWICE)
    settings = make_settings("sqlite", repo_path=repo)
    store = Store(settings)
    try:
        store.apply(load_definitions(repo))
    finally:
        store.close()
    return settings


def test_a_name_collision_is_a_422_unless_full_names_are_asked(settings: Settings) -> None:
    body = {"feature_service": "country_twice", "entities": {"customer_id": [1]}}
    with ServerThread(settings) as srv, httpx.Client(base_url=srv.url, timeout=30) as client:
        clash = client.post("/get-online-features", json=body)
        assert clash.status_code == 422, clash.text
        assert "['country']" in clash.text
        assert "full feature names" in clash.text
        full = client.post("/get-online-features", json={**body, "full_feature_names": True})
    assert full.status_code == 200, full.text
    assert full.json()["metadata"]["feature_names"] == [
        "customer_id",
        "customer_profile__country",
        "profile_again__country",
    ]
