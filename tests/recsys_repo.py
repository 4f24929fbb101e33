"""The recsys example (``examples/recsys``) as the end-to-end tests onboard it."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from tests.cli import cli
from tests.demo_repo import import_path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "recsys"
OWNER = "recsys-features@shop.example"


def copy_example(repo: Path) -> Path:
    """The example copied to ``repo`` without its inferred contracts or data."""
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("*_contract.py", "data"))
    return repo


def onboard(repo: Path, samples_dir: Path) -> dict[str, Path]:
    """Write the samples, infer contracts, apply, ingest each sample and materialize.

    Returns the sample files by source.
    """
    samples_module = import_path(repo / "samples.py", f"_samples_{repo.parent.name}")
    samples: dict[str, Path] = samples_module.write_samples(samples_dir, now=datetime.now(UTC))
    out = cli(
        "contracts", "infer", "--repo", str(repo), "--sample", str(samples_dir), "--owner", OWNER
    )
    assert "user_item_affinity_contract.py" in out
    out = cli("apply", "--repo", str(repo))
    assert "3 feature views, 1 on-demand views, 2" in out
    for source, path in samples.items():
        cli("ingest", source, str(path))
    cli("materialize")
    return samples
