"""The card-fraud demo repository as the tests load it: like any user's repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.contracts.base import SourceContract
from services.repository import Repository, load_repository

DEMO_REPO = Path(__file__).resolve().parents[1] / "feature_repo"


def demo_repository() -> Repository:
    return load_repository(DEMO_REPO)


def contract(source: str) -> type[SourceContract]:
    return demo_repository().contracts[source]


def write_demo_data(out: Path, **kwargs: Any) -> Any:
    """The demo's raw files (its ``demo_data.write_demo_data``), through the repository."""
    return demo_repository().modules["demo_data"].write_demo_data(out, **kwargs)


def allowed_values(source: str, column: str) -> tuple[object, ...]:
    """The values a demo contract column allows (its ``isin`` check)."""
    from services.contracts.schema import column_specs

    spec = next(c for c in column_specs(contract(source)) if c.name == column)
    assert spec.allowed is not None
    return spec.allowed


def import_path(path: Path, prefix: str) -> Any:
    """Import one file of a repository as a module of its own (a generator, a contract)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"{prefix}_{path.stem}_{abs(hash(path))}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
