"""A Feast repository laid out in packages, with a ``.feastignore``, applies as Feast applies it.

``feast apply`` imports every ``*.py`` below the root, subdirectories included, except what
``.feastignore`` names. The recsys example is rearranged that way: its definitions in
``features/recsys.py`` (a package), a notebook script that fails on import under
``notebooks/`` (ignored). It is onboarded, applied, ingested, materialized and served, and its
serving plan goes stale when the file in the package changes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from services.serving_plan import load_service_plan
from services.settings import Settings
from tests.cli import cli
from tests.demo_repo import import_path

pytestmark = [pytest.mark.e2e]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "recsys"
OWNER = "recsys-features@shop.example"
SERVICE = "recs_v1"


@pytest.fixture
def packaged(make_settings: Callable[..., Settings], tmp_path: Path) -> tuple[Settings, Path]:
    """The example with its definitions in a package and a broken script it ignores."""
    repo = tmp_path / "recsys"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("*_contract.py", "data"))
    (repo / "features").mkdir()
    (repo / "features" / "__init__.py").write_text('"""The team\'s feature definitions."""\n')
    (repo / "definitions.py").rename(repo / "features" / "recsys.py")
    (repo / "notebooks").mkdir()
    (repo / "notebooks" / "explore.py").write_text('raise RuntimeError("scratch, not a def")\n')
    (repo / ".feastignore").write_text("notebooks/  # exploration, never applied\n")
    return make_settings("sqlite", repo_path=repo), repo


def test_a_repository_in_packages_goes_end_to_end(
    packaged: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, repo = packaged
    samples_module = import_path(repo / "samples.py", "_samples_packaged")
    samples = samples_module.write_samples(tmp_path / "samples", now=datetime.now(UTC))
    out = cli(
        "contracts", "infer", "--repo", str(repo), "--sample", str(tmp_path / "samples"),
        "--owner", OWNER,
    )  # fmt: skip
    assert "user_item_affinity_contract.py" in out
    out = cli("apply", "--repo", str(repo))
    assert "3 feature views, 1 on-demand views, 2" in out
    for source, path in samples.items():
        cli("ingest", source, str(path))
    cli("materialize")

    pair = pd.read_parquet(samples["user_item_affinity"]).iloc[0]
    args = (
        "online", "--service", SERVICE, "--json",
        "--entity", f"user_id={pair['user_id']}", "--entity", f"item_id={pair['item_id']}",
        "--request", "hour_of_day=20", "--request", "device=ios",
    )  # fmt: skip
    assert load_service_plan(settings, SERVICE) is not None  # apply planned the package's view
    served = cli(*args)
    assert '"is_mobile"' in served
    assert '"session_score"' in served

    # The on-demand function lives in features/recsys.py: an edit there is a new plan's input.
    module = repo / "features" / "recsys.py"
    module.write_text(module.read_text() + "\n# edited\n")
    assert load_service_plan(settings, SERVICE) is None
    assert cli(*args) == served
    assert load_service_plan(settings, SERVICE) is not None  # the full path wrote it again


def test_without_the_ignore_file_the_broken_script_is_named(
    packaged: tuple[Settings, Path],
) -> None:
    _, repo = packaged
    (repo / ".feastignore").unlink()
    out = cli("apply", "--repo", str(repo), code=2)
    line = out.strip()
    assert "\n" not in line
    assert "explore.py" in line
    assert "failed to import" in line
    assert "Traceback" not in out
