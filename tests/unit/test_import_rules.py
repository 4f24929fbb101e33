"""The layout's import rules hold (DESIGN.md, "Layout"), checked on the source, not by review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the data plane may use of the governance plane: names, the event emitter, the one
# authorization model, the one request-body cap and rate limit both servers apply, and the one
# reading of a database driver's errors (the lineage database's, and Feast's SQL registry's).
SERVICES_MAY_IMPORT = {
    "lineage.emitter",
    "lineage.identity",
    "lineage.access",
    "lineage.limits",
    "lineage.ratelimit",
    "lineage.errors",
    "lineage.db.availability",
}
# The `skewless` command mounts both planes' commands, which print their tables alike.
CLI_MAY_IMPORT = {"lineage.cli", "lineage.cli_render"}
DOMAIN_WORDS = ("customer", "merchant", "fraud", "card", "transaction_")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("lineage"), ids=lambda p: str(p.relative_to(ROOT)))
def test_lineage_never_imports_the_data_plane(path: Path) -> None:
    assert not [n for n in _imports(path) if n == "services" or n.startswith("services.")]


@pytest.mark.parametrize("path", _modules("services"), ids=lambda p: str(p.relative_to(ROOT)))
def test_services_use_only_the_shared_lineage_modules(path: Path) -> None:
    used = {n for n in _imports(path) if n == "lineage" or n.startswith("lineage.")}
    command = path.parent.name == "services" and path.name.startswith(("cli", "demo"))
    allowed = SERVICES_MAY_IMPORT | (CLI_MAY_IMPORT if command else set())
    assert used <= allowed, sorted(used - allowed)


@pytest.mark.parametrize(
    "path",
    [*_modules("services"), *_modules("lineage")],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_the_platform_names_no_domain(path: Path) -> None:
    text = path.read_text().lower()
    assert not [w for w in DOMAIN_WORDS if w in text], path


def test_contracts_machinery_imports_no_web_or_redis() -> None:
    for path in _modules("services/contracts"):
        bad = {n for n in _imports(path) if n.split(".")[0] in ("fastapi", "redis", "starlette")}
        assert not bad, (path, bad)
