"""Which files make up a feature repository, by Feast's own rule, computed without Feast.

``feast apply`` imports every ``*.py`` under the repository root, subdirectories included,
except ``__init__.py`` files and what ``.feastignore`` (and Feast's built-in list: ``.git``,
``.venv``, caches) names. Skewless loads the same files, so a repository laid out in packages
(``features/driver.py``) applies here as it does with Feast, and the loaders' caches and the
serving plan's fingerprint watch the same files they import. ``tests/unit/test_repo_files.py``
holds this to Feast's ``get_repo_files`` on the same trees.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

IGNORE_FILE = ".feastignore"
# What Feast ignores in every repository (feast.repo_operations.get_repo_files).
ALWAYS_IGNORED = (
    ".git",
    ".feastignore",
    ".venv",
    "**/.ipynb_checkpoints",
    "**/.pytest_cache",
    "**/__pycache__",
)


def ignore_patterns(repo: Path) -> list[str]:
    """The patterns of ``repo``'s ``.feastignore``: one per line, ``#`` starts a comment."""
    path = repo / IGNORE_FILE
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _ignored(repo: Path, patterns: list[str]) -> set[Path]:
    ignored: set[Path] = set()
    for pattern in set(patterns):
        for matched in repo.glob(pattern):
            if matched.is_file():
                ignored.add(matched.resolve())
            else:  # a directory: every Python file below it
                ignored |= {p.resolve() for p in matched.glob("**/*.py") if p.is_file()}
    return ignored


def repository_files(repo: Path) -> list[Path]:
    """The repository's Python files Feast would import, resolved and sorted."""
    repo = repo.resolve()
    found = {p.resolve() for p in repo.glob("**/*.py") if p.is_file() and p.name != "__init__.py"}
    return sorted(found - _ignored(repo, [*ignore_patterns(repo), *ALWAYS_IGNORED]))


def module_name(repo: Path, path: Path) -> str:
    """The dotted name a repository file is imported under (the root first on ``sys.path``).

    ``features/driver.py`` is imported as ``features.driver``.
    """
    return ".".join(path.resolve().relative_to(repo.resolve()).with_suffix("").parts)


def watched_files(repo: Path) -> list[Path]:
    """What a load of ``repo`` depends on.

    That is its Python files, packages' ``__init__.py`` included (they run on import),
    ``.feastignore`` and ``feature_store.yaml``.
    """
    repo = repo.resolve()
    files = set(repository_files(repo))
    for path in list(files):
        for parent in path.parents:
            if parent == repo:
                break
            if (parent / "__init__.py").is_file():
                files.add(parent / "__init__.py")
    for name in (IGNORE_FILE, "feature_store.yaml"):
        if (repo / name).is_file():
            files.add(repo / name)
    return sorted(files)


def files_digest(repo: Path, files: list[Path]) -> str:
    """A hash of ``files`` (below ``repo``): each one's path in the repository and its bytes."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(repr((path.relative_to(repo).as_posix(), path.read_bytes())).encode())
    return digest.hexdigest()
