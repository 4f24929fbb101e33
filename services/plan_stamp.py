"""What a serving plan was built from, as one fingerprint, computed without Feast.

A plan (:mod:`services.serving_plan`) is current while three things are unchanged: the
project's definitions in Feast's registry, the repository's code as applied (its contracts give
feature types, its functions the on-demand outputs: the copy :mod:`services.applied` pinned, or
the repository's files when none was), and the settings naming them. The registry part
hashes the project's rows in Feast's SQL registry tables (read with ``sqlite3`` for a SQLite
registry, SQLAlchemy otherwise) or the bytes of Feast's file registry: any apply rewrites those
rows, so a plan built before an apply no longer matches. Reading the tables needs their names,
which are Feast's: a Feast upgrade that renames them makes every plan stale (never wrong), and
``tests/integration/test_serving_plan.py`` notices.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from services.applied import pinned
from services.repo_files import files_digest, watched_files
from services.settings import Settings

# Feast's SQL registry tables holding a project's definitions (feast.infra.registry.sql).
REGISTRY_TABLES = (
    "entities",
    "data_sources",
    "feature_views",
    "stream_feature_views",
    "on_demand_feature_views",
    "feature_services",
)


def _rows_digest(rows_by_table: dict[str, list[tuple[Any, ...]]]) -> str:
    digest = hashlib.sha256()
    for table in REGISTRY_TABLES:
        rows = sorted(
            repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r))
            for r in rows_by_table[table]
        )
        digest.update(repr((table, rows)).encode())
    return digest.hexdigest()


def _sqlite_rows(url: str, project: str) -> dict[str, list[tuple[Any, ...]]] | None:
    path = url.removeprefix("sqlite:///")
    if not Path(path).is_file():
        return None
    conn = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True)
    try:
        return {
            t: conn.execute(f"SELECT * FROM {t} WHERE project_id = ?", (project,)).fetchall()
            for t in REGISTRY_TABLES
        }
    finally:
        conn.close()


def _sql_rows(url: str, project: str) -> dict[str, list[tuple[Any, ...]]]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                t: [
                    tuple(r)
                    for r in conn.execute(
                        text(f"SELECT * FROM {t} WHERE project_id = :p"), {"p": project}
                    )
                ]
                for t in REGISTRY_TABLES
            }
    finally:
        engine.dispose()


def registry_fingerprint(settings: Settings) -> str | None:
    """A hash of the project's definitions in the registry (None: no registry to read)."""
    url = settings.effective_registry_url
    try:
        if "://" not in url:  # Feast's file registry: one proto, a relative path is the repo's
            path = Path(url) if Path(url).is_absolute() else settings.repo_path.resolve() / url
            return hashlib.sha256(path.read_bytes()).hexdigest()
        rows = (
            _sqlite_rows(url, settings.project)
            if url.startswith("sqlite:///")
            else _sql_rows(url, settings.project)
        )
    except Exception:  # unreadable now: no fingerprint, so no plan is current
        return None
    return None if rows is None else _rows_digest(rows)


def repository_fingerprint(repo_path: Path) -> str:
    """A hash of the files a load of the repository reads (``repo_files.watched_files``)."""
    repo_path = repo_path.resolve()
    return files_digest(repo_path, watched_files(repo_path))


def _code_fingerprint(settings: Settings) -> str:
    """The applied copy's hash (what the data plane runs), else the repository's files'."""
    found = pinned(settings)
    return found.fingerprint if found is not None else repository_fingerprint(settings.repo_path)


def current_stamp(settings: Settings) -> dict[str, str] | None:
    """The fingerprint a plan built now would carry (None: the registry cannot be read)."""
    registry = registry_fingerprint(settings)
    if registry is None:
        return None
    return {
        "registry_url": settings.effective_registry_url,
        "registry": registry,
        "repository_path": str(settings.repo_path.resolve()),
        "repository": _code_fingerprint(settings),
    }
