"""Skewless's side of the benchmark: settings from the environment, the store, the plan."""

from __future__ import annotations

import os
from pathlib import Path

from services.settings import Settings, get_settings, reset_settings
from services.store import Store, load_definitions

REPO_PATH = Path(__file__).resolve().parent / "feature_repo"
REPO_ROOT = REPO_PATH.parent.parent


def env(
    data_dir: Path, project: str, redis_url: str, online_store: str = "redis"
) -> dict[str, str]:
    """The variables every Skewless process of the benchmark runs with."""
    return {
        "SKEWLESS_DATA_DIR": str(data_dir),
        "SKEWLESS_PROJECT": project,
        "SKEWLESS_ONLINE_STORE": online_store,
        "SKEWLESS_REPO_PATH": str(REPO_PATH),
        "REDIS_URL": redis_url,
        "PYTHONPATH": str(REPO_ROOT),
    }


def settings_from(variables: dict[str, str]) -> Settings:
    """Put ``variables`` in this process's environment and rebuild the cached settings."""
    os.environ.update(variables)
    reset_settings()
    return get_settings()


def open_store(apply: bool = False) -> Store:
    """The Skewless store of the current environment (optionally applying the bench repo)."""
    settings = get_settings()
    store = Store(settings)
    if apply:
        store.apply(load_definitions(settings.repo_path))
    return store
