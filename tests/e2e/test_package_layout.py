"""A Feast repository laid out in packages, with a ``.feastignore``, applies as Feast applies it.

``feast apply`` imports every ``*.py`` below the root, subdirectories included, except what
``.feastignore`` names. The recsys example is rearranged that way: its definitions in
``features/recsys.py`` (a package), a notebook script that fails on import under
``notebooks/`` (ignored). It is onboarded, applied, ingested, materialized and served, and its
serving plan goes stale when the file in the package changes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from services.plan_stamp import current_stamp
from services.serving_plan import load_service_plan, plan_path
from services.settings import Settings
from tests.cli import cli
from tests.recsys_repo import copy_example, onboard

pytestmark = [pytest.mark.e2e]

SERVICE = "recs_v1"


@pytest.fixture
def packaged(make_settings: Callable[..., Settings], tmp_path: Path) -> tuple[Settings, Path]:
    """The example with its definitions in a package and a broken script it ignores."""
    repo = copy_example(tmp_path / "recsys")
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
    samples = onboard(repo, tmp_path / "samples")

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

    # The on-demand function lives in features/recsys.py: an edit there runs once applied
    # (the copy apply pinned is what serves until then), and is a new plan's input.
    module = repo / "features" / "recsys.py"
    module.write_text(module.read_text() + "\n# edited\n")
    assert load_service_plan(settings, SERVICE) is not None
    stamp = current_stamp(settings)
    cli("apply", "--repo", str(repo))
    assert current_stamp(settings) != stamp
    assert load_service_plan(settings, SERVICE) is not None  # apply wrote it again
    plan_path(settings).unlink()
    assert cli(*args) == served  # the full path, from the copy of the package
    assert load_service_plan(settings, SERVICE) is not None  # ... wrote it again


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
