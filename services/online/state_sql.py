"""Where materialization progress lives: tables beside the registry, reached by every replica.

Each feature view's done dataset versions and its marker token are rows keyed by project and
online store, in the registry's SQL database (the default SQLite registry file, or PostgreSQL
when the registry is shared), or in ``online_state.db`` in the data dir when the registry is
Feast's file registry. Rows are only ever added (a version once done stays done) and a marker
is replaced per view, so concurrent runs and replicas add to one record instead of rewriting a
whole file over each other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from sqlalchemy import Column, Engine, MetaData, String, Table, create_engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import NullPool

from services.settings import Settings

_metadata = MetaData()
VERSIONS = Table(
    "skewless_online_versions",
    _metadata,
    Column("project", String(255), primary_key=True),
    Column("online_store", String(32), primary_key=True),
    Column("view", String(255), primary_key=True),
    Column("version", String(255), primary_key=True),
)
MARKERS = Table(
    "skewless_online_markers",
    _metadata,
    Column("project", String(255), primary_key=True),
    Column("online_store", String(32), primary_key=True),
    Column("view", String(255), primary_key=True),
    Column("token", String(64), nullable=False),
)

CHUNK = 1000  # rows per INSERT: well inside SQLite's bound-parameter limit
_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def state_url(settings: Settings) -> str:
    """The registry's SQL database, or a SQLite file in the data dir beside a file registry."""
    url = settings.effective_registry_url
    if "://" in url:
        return url
    return f"sqlite:///{(settings.data_dir / 'online_state.db').resolve()}"


def _engine(settings: Settings) -> Engine:
    url = state_url(settings)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            if url.startswith("sqlite"):
                settings.data_dir.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, poolclass=NullPool)  # a file: nothing to keep open
            else:  # one idle connection per registry database, whatever the process holds
                engine = create_engine(url, pool_size=1, max_overflow=4, pool_pre_ping=True)
            _metadata.create_all(engine)  # idempotent: CREATE TABLE IF NOT EXISTS
            _engines[url] = engine
    return engine


def read(settings: Settings, project: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Done versions per view (sorted) and marker token per view of ``project``."""
    key = (VERSIONS.c.project == project, VERSIONS.c.online_store == settings.online_store)
    with _engine(settings).connect() as con:
        rows = con.execute(select(VERSIONS.c.view, VERSIONS.c.version).where(*key)).all()
        marks = con.execute(
            select(MARKERS.c.view, MARKERS.c.token).where(
                MARKERS.c.project == project, MARKERS.c.online_store == settings.online_store
            )
        ).all()
    views: dict[str, list[str]] = {}
    for view, version in rows:
        views.setdefault(view, []).append(version)
    return {v: sorted(vs) for v, vs in views.items()}, {v: t for v, t in marks}


def _insert(engine: Engine) -> type[postgresql.Insert] | type[sqlite.Insert]:
    return postgresql.Insert if engine.dialect.name == "postgresql" else sqlite.Insert


def add(
    settings: Settings,
    project: str,
    versions: Iterable[tuple[str, str]],
    markers: dict[str, str],
) -> None:
    """Add done (view, version) pairs and set the given views' markers, in one transaction."""
    engine = _engine(settings)
    insert = _insert(engine)
    base = {"project": project, "online_store": settings.online_store}
    done = [{**base, "view": v, "version": ver} for v, ver in versions]
    with engine.begin() as con:
        for i in range(0, len(done), CHUNK):
            con.execute(insert(VERSIONS).values(done[i : i + CHUNK]).on_conflict_do_nothing())
        if markers:
            rows = [{**base, "view": v, "token": t} for v, t in markers.items()]
            stmt = insert(MARKERS).values(rows)
            con.execute(
                stmt.on_conflict_do_update(
                    index_elements=["project", "online_store", "view"],
                    set_={"token": stmt.excluded.token},
                )
            )
