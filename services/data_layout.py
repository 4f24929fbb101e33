"""Where a project's files live in the data dir: one folder per project for each kind of data.

Dataset versions, quarantine, training sets and served-feature logs are named by source, view,
service or training-set name, which only a project makes unique: two projects sharing a data
dir, each with a source ``orders``, read each other's versions when both lived under
``<data dir>/offline/orders``. Each kind now has a folder per project:
``<data dir>/offline/<project>/<source>/``, ``quarantine/<project>/<source>/``,
``training_sets/<project>/<name>/`` and ``served/<project>/<service>/``. The registry, the online
store and the lineage database were already shared safely (each keys its rows by project).

A data dir written before (no ``layout.json``) holds those kinds one level up; the first
process of any project that opens it moves them into that project's folders (the files were
that project's unless the data dir was already shared, in which case they were already mixed),
once, under a lock, and says so. A move cut short (a crash) is finished by the next process.
A data dir that does not exist yet is left alone (a repository computing its paths at import
writes nothing); the marker is written by the first look once it exists, before any writer,
which opens the store (and so creates the data dir) before it asks where to write.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from services.errors import InputError

LAYOUT_FILE = "layout.json"
VERSION = 2  # 1: the kinds' folders held every project's files side by side
KINDS = ("offline", "quarantine", "training_sets", "served")
_MOVING = ".moving"
_READY: set[Path] = set()  # data dirs this process found in the current layout
_LOCK = threading.Lock()
log = logging.getLogger("skewless.data_layout")


def project_dir(data_dir: Path, kind: str, project: str) -> Path:
    """The folder holding ``project``'s files of ``kind`` (one of ``KINDS``)."""
    ensure_layout(data_dir, project)
    return data_dir / kind / project


def ensure_layout(data_dir: Path, project: str) -> None:
    """Bring a data dir of the earlier layout into the per-project one (once per process).

    Raises:
        InputError: the data dir cannot be written (the move cannot be made).

    """
    root = data_dir.resolve()
    if root in _READY or not root.is_dir():  # nothing to move, and nothing written on a mere look
        return
    with _LOCK:
        if root in _READY:
            return
        try:
            if not _current(root):
                _migrate(root, project)
        except OSError as exc:
            raise InputError(
                f"SKEWLESS_DATA_DIR {data_dir}: cannot bring it to the per-project layout: {exc}"
            ) from exc
        _READY.add(root)


def _current(root: Path) -> bool:
    try:
        return int(json.loads((root / LAYOUT_FILE).read_text()).get("version", 0)) >= VERSION
    except (OSError, ValueError, AttributeError):
        return False


def _migrate(root: Path, project: str) -> None:
    with open(root / f".{LAYOUT_FILE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be moving the same data dir
        if _current(root):
            return
        moved = [kind for kind in KINDS if _move_kind(root, kind, project)]
        marker = {"version": VERSION, "at": datetime.now(UTC).isoformat(timespec="seconds")}
        if moved:
            marker["moved_into"] = project
            log.warning(
                "note: %s: moved %s into the folders of project %r (the layout is per project "
                "now); run `skewless apply` so Feast's registry names the new paths",
                root,
                ", ".join(f"{kind}/" for kind in moved),
                project,
            )
        tmp = root / f".{LAYOUT_FILE}.tmp"
        tmp.write_text(json.dumps(marker))
        os.replace(tmp, root / LAYOUT_FILE)


def _move_kind(root: Path, kind: str, project: str) -> bool:
    """Move ``root/kind``'s entries into ``root/kind/project``; whether anything was moved.

    The folder is renamed aside first, so a project named like one of its entries (a project
    ``orders`` with a source ``orders``) cannot collide with it; a rename left aside by a
    crash is picked up again.
    """
    folder, aside = root / kind, root / f"{kind}{_MOVING}"
    if not aside.exists():
        listed = list(folder.iterdir()) if folder.is_dir() else []
        if not [p for p in listed if not p.name.startswith(".")]:
            return False
        folder.rename(aside)
    target = folder / project
    target.mkdir(parents=True, exist_ok=True)
    for entry in aside.iterdir():
        destination = (folder if entry.name.startswith(".") else target) / entry.name
        if not destination.exists():
            entry.rename(destination)
    leftovers = list(aside.iterdir())
    if leftovers:
        raise OSError(f"{aside}: {leftovers[0].name} is also in {target}; move it by hand")
    aside.rmdir()
    return True
