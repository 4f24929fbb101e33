"""The files of a repository are the ones ``feast apply`` imports, judged by Feast itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from feast.repo_operations import get_repo_files

from services.repo_files import module_name, repository_files, watched_files

TREE = {
    "top.py": "",
    "_private.py": "",
    "__init__.py": "",
    "features/__init__.py": "",
    "features/driver.py": "",
    "features/sub/deep.py": "",
    "notebooks/explore.py": "",
    "notebooks/keep.txt": "",
    "scripts/one.py": "",
    "scripts/two.py": "",
    ".venv/lib/site.py": "",
    ".git/hooks/hook.py": "",
    "build/__pycache__/cached.py": "",
    "features/.ipynb_checkpoints/draft.py": "",
    "feature_store.yaml": "project: p\n",
}


def _tree(root: Path, ignore: str | None) -> Path:
    for name, text in TREE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    if ignore is not None:
        (root / ".feastignore").write_text(ignore)
    return root


@pytest.mark.parametrize(
    "ignore",
    [
        None,
        "notebooks/   # scratch work\n\n# a comment line\nscripts/one.py\n",
        "**/deep.py\nfeatures/driver.py\n",
        "*.py\n",
    ],
)
def test_the_same_files_as_feast(tmp_path: Path, ignore: str | None) -> None:
    repo = _tree(tmp_path / "repo", ignore)
    assert repository_files(repo) == get_repo_files(repo.resolve())


def test_module_names_are_dotted_from_the_root(tmp_path: Path) -> None:
    repo = _tree(tmp_path / "repo", None)
    names = [module_name(repo, p) for p in repository_files(repo)]
    assert "features.driver" in names
    assert "features.sub.deep" in names
    assert "top" in names
    assert not any(n.endswith("__init__") for n in names)


def test_a_load_watches_package_inits_and_the_ignore_file(tmp_path: Path) -> None:
    repo = _tree(tmp_path / "repo", "notebooks/\n").resolve()
    watched = watched_files(repo)
    assert repo / "features/__init__.py" in watched  # runs when features.driver is imported
    assert repo / ".feastignore" in watched
    assert repo / "feature_store.yaml" in watched
    assert repo / "notebooks/explore.py" not in watched
    assert repo / "__init__.py" not in watched  # the root is no package of the repository
