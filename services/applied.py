"""The repository as applied: its code pinned at ``skewless apply``, run by the data plane.

Feast serves what was applied: an on-demand view's function is pickled into its registry, so
an edit to the repository changes nothing until the next ``feast apply``. Skewless runs the
repository's own code (its contracts and on-demand functions), so it pins that code instead:
``apply`` copies the repository's Python files (and its ``feature_store.yaml`` and
``.feastignore``) to ``<data dir>/applied/<project>/<hash>/`` and points
``<data dir>/applied/<project>/current.json`` at the copy. Every data-plane path (serving,
training sets, ingestion, materialization, audits) loads the repository from there, so an
unapplied edit never goes live, a file with a syntax error left in the working tree breaks
nothing that was applied, and offline and online run the same function.

Only an apply through this data dir moves the pointer; ``Store.apply`` of definitions built in
code (not a repository's files) removes it, and the data plane then reads the repository's
files as they are, as it did before pinning. A copy keeps every ``*.py`` below the root but
Feast's always-ignored folders, so a helper module ``.feastignore`` hides from the scan is
still importable from the copy. The newest ``KEEP`` copies are kept: a process that loaded an
older one keeps running it until its next reload.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.repo_files import ALWAYS_IGNORED, IGNORE_FILE, files_digest
from services.settings import Settings

POINTER = "current.json"
KEEP = 3  # copies kept per project, newest first
_SKIPPED_DIRS = {p.removeprefix("**/") for p in ALWAYS_IGNORED}


@dataclass(frozen=True)
class Pinned:
    """The applied copy of a repository: where it lives, its hash, whence and when applied."""

    path: Path
    fingerprint: str
    source: str
    applied_at: str


def applied_dir(settings: Settings) -> Path:
    """The folder holding the project's applied copies."""
    return settings.data_dir.resolve() / "applied" / settings.project


def code_files(repo: Path, settings: Settings) -> list[Path]:
    """What a copy holds: every ``*.py`` below ``repo`` and its two settings files, sorted.

    Feast's always-ignored folders and the data dir (when kept inside the repository) are
    not walked.
    """
    repo, data_dir = repo.resolve(), settings.data_dir.resolve()
    found: list[Path] = []
    for root, dirs, files in os.walk(repo):
        here = Path(root)
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS and here / d != data_dir]
        found += [here / name for name in files if name.endswith(".py")]
    settings_files = (repo / IGNORE_FILE, repo / "feature_store.yaml")
    found += [path for path in settings_files if path.is_file()]
    return sorted(found)


def live_fingerprint(settings: Settings) -> str:
    """The hash a copy of the repository's files as they are now would carry."""
    repo = settings.repo_path.resolve()
    return files_digest(repo, code_files(repo, settings))


def pin(settings: Settings, repo: Path) -> Pinned:
    """Copy ``repo``'s code into the project's applied folder and point the data plane at it."""
    repo = repo.resolve()
    files = code_files(repo, settings)
    fingerprint = files_digest(repo, files)
    home = applied_dir(settings)
    home.mkdir(parents=True, exist_ok=True)
    target = home / fingerprint[:16]
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=".copy-", dir=home))
        for path in files:
            copy = staging / path.relative_to(repo)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
        try:
            staging.rename(target)
        except OSError:  # another apply of the same code got there first
            shutil.rmtree(staging, ignore_errors=True)
    os.utime(target)  # the newest copy is the one pointed at, also when its code came back
    applied_at = datetime.now(UTC).isoformat(timespec="seconds")
    _write_pointer(
        home,
        {
            "copy": target.name,
            "fingerprint": fingerprint,
            "source": str(repo),
            "applied_at": applied_at,
        },
    )
    _prune(home, keep=target.name)
    return Pinned(target, fingerprint, str(repo), applied_at)


def unpin(settings: Settings) -> None:
    """Forget the pinned copy: the data plane reads the repository's files as they are."""
    with suppress(FileNotFoundError):
        (applied_dir(settings) / POINTER).unlink()


def pinned(settings: Settings) -> Pinned | None:
    """The applied copy the data plane runs, or None (never applied through this data dir)."""
    home = applied_dir(settings)
    try:
        data = json.loads((home / POINTER).read_text())
        target = home / str(data["copy"])
        found = Pinned(target, *(str(data[k]) for k in ("fingerprint", "source", "applied_at")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if target.is_dir() else None


def repository_path(settings: Settings) -> Path:
    """Where the data plane loads the repository from: the applied copy, else the files."""
    found = pinned(settings)
    return found.path if found is not None else settings.repo_path.resolve()


def unapplied_note(settings: Settings) -> str | None:
    """One line saying the working tree differs from what runs, or None when it does not."""
    found = pinned(settings)
    if found is None or not settings.repo_path.is_dir():
        return None
    if live_fingerprint(settings) == found.fingerprint:
        return None
    return (
        f"note: {settings.repo_path} has changes not applied; running the repository as "
        f"applied at {found.applied_at} (run `skewless apply` to use them)"
    )


def _write_pointer(home: Path, data: dict[str, str]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".current-", suffix=".tmp", dir=home)
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(data, out)
        os.replace(tmp, home / POINTER)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def _prune(home: Path, *, keep: str) -> None:
    copies = sorted(
        (p for p in home.iterdir() if p.is_dir() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    old = [p for p in copies if p.name != keep][KEEP - 1 :]
    for path in old:
        shutil.rmtree(path, ignore_errors=True)
