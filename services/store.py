"""The one adapter around ``feast.FeatureStore``.

Builds the Feast ``RepoConfig`` from :class:`services.settings.Settings` (so the
YAML file and the processes read the same variables), loads the definitions of
a repository without changing the working directory, applies them, and exposes
the registry objects the rest of the data plane needs, fully typed. A Feast
upgrade touches this file.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from feast import (
    Entity,
    FeatureService,
    FeatureStore,
    FeatureView,
    OnDemandFeatureView,
)
from feast.base_feature_view import BaseFeatureView
from feast.data_source import DataSource
from feast.repo_config import RepoConfig

from services.errors import InputError, UnknownFeatureServiceError
from services.repo_files import module_name, repository_files
from services.settings import Settings

if TYPE_CHECKING:
    from services.repository import Repository

UNTYPED_ENTITY_WARNING = "Entity value_type will be mandatory"
ODFV_EXPERIMENTAL_WARNING = "On demand feature view is an experimental feature"
# Feast warns when a SparkSource is built (its `feast init -t spark` template has two): the
# experimental API is Feast's reader of the source, which Skewless does not use.
SPARK_SOURCE_WARNING = "The spark data source API is an experimental feature"


@contextmanager
def feast_notes_ignored() -> Iterator[None]:
    """Feast's warnings about its own APIs that Skewless does not use, ignored for a block.

    Feast warns when an untyped entity, an on-demand view or a SparkSource is built (at import of
    a repository and at every registry read) about its inference, its offline on-demand
    retrieval and its Spark reader. Skewless types keys itself and runs neither; on the screen
    they were noise on every command. Scoped, not global: Feast's own import-time
    ``simplefilter`` calls would override a process-wide filter anyway.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", UNTYPED_ENTITY_WARNING, DeprecationWarning)
        warnings.filterwarnings("ignore", ODFV_EXPERIMENTAL_WARNING, RuntimeWarning)
        warnings.filterwarnings("ignore", SPARK_SOURCE_WARNING, RuntimeWarning)
        yield


MAX_REASON = 400  # characters of Feast's reason an apply error quotes (its reprs run long)


def _redis_connection_string(url: str) -> str:
    """Turn ``redis://host:port/db`` into Feast's ``host:port,db=N`` form."""
    parsed = urlparse(url)
    parts = [f"{parsed.hostname or '127.0.0.1'}:{parsed.port or 6379}"]
    db = (parsed.path or "/0").lstrip("/") or "0"
    parts.append(f"db={db}")
    if parsed.password:
        parts.append(f"password={parsed.password}")
    if parsed.scheme == "rediss":
        parts.append("ssl=true")
    return ",".join(parts)


def _registry_config(url: str) -> dict[str, Any]:
    """A SQL registry for a URL, Feast's file registry for a plain path."""
    if "://" not in url:
        return {"registry_type": "file", "path": url, "cache_ttl_seconds": 60}
    return {
        "registry_type": "sql",
        "path": url,
        "cache_ttl_seconds": 60,
        "sqlalchemy_config_kwargs": {"echo": False, "pool_pre_ping": True},
    }


def feast_config(settings: Settings) -> dict[str, Any]:
    """Feast's ``feature_store.yaml`` settings equivalent to ``settings`` (absolute paths).

    What Skewless itself opens (:func:`repo_config`) and what ``skewless feast-yaml`` writes
    for Feast's own SDK and CLI, so the two always read the same registry and online store.
    """
    online: dict[str, Any]
    if settings.online_store == "redis_cluster":
        online = {
            "type": "redis",
            "redis_type": "redis_cluster",
            "connection_string": ",".join(f"{h}:{p}" for h, p in settings.cluster_nodes),
            "skip_dedup": True,
        }
    elif settings.online_store == "redis":
        online = {
            "type": "redis",
            "connection_string": _redis_connection_string(settings.redis_url),
            # We write the authoritative latest row ourselves; Feast's read-before-write
            # dedup would drop a same-timestamp correction with a later created_timestamp.
            "skip_dedup": True,
        }
    else:
        online = {"type": "sqlite", "path": str(settings.online_sqlite_path.resolve())}
    return {
        "project": settings.project,
        "provider": "local",
        "registry": _registry_config(settings.effective_registry_url),
        "online_store": online,
        "offline_store": {"type": "file"},
        "entity_key_serialization_version": 3,
    }


def repo_config(settings: Settings) -> RepoConfig:
    """The Feast configuration equivalent to ``feature_repo/feature_store.yaml``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return RepoConfig(**feast_config(settings), repo_path=settings.repo_path.resolve())


@dataclass
class Definitions:
    """The Feast objects a repository declares."""

    entities: list[Entity] = field(default_factory=list)
    data_sources: list[DataSource] = field(default_factory=list)
    feature_views: list[FeatureView] = field(default_factory=list)
    on_demand_feature_views: list[OnDemandFeatureView] = field(default_factory=list)
    feature_services: list[FeatureService] = field(default_factory=list)
    # Views of kinds Skewless does not register (Feast's label views): named by ``apply``.
    not_applied: list[Any] = field(default_factory=list)

    def all(self) -> list[Any]:
        return [
            *self.entities,
            *self.data_sources,
            *self.feature_views,
            *self.on_demand_feature_views,
            *self.feature_services,
        ]


@contextmanager
def _repo_import_path(repo_path: Path, names: set[str]) -> Iterator[None]:
    """Let a repository's modules import each other by plain name, as Feast's CLI does.

    The repository is put first on ``sys.path`` and the modules under ``names`` (its top-level
    modules and packages) are cleared from ``sys.modules`` before and after, so two
    repositories with a ``contracts.py`` each can be loaded in one process; the loaded modules
    live on through what references them.
    """

    def clear() -> None:
        for loaded in [m for m in sys.modules if m.split(".", 1)[0] in names]:
            sys.modules.pop(loaded, None)

    clear()
    sys.path.insert(0, str(repo_path))
    try:
        yield
    finally:
        sys.path.remove(str(repo_path))
        clear()


def _repo_modules(repo_path: Path) -> Iterator[ModuleType]:
    """Import the repository's files as ``feast apply`` does (fresh each call), yielding each.

    That is every ``*.py`` below the root but ``__init__.py`` and what ``.feastignore`` names
    (:func:`services.repo_files.repository_files`), ``features/driver.py`` as
    ``features.driver``.
    """
    if not repo_path.is_dir():
        raise InputError(
            f"feature repo {repo_path}: no such directory (--repo / SKEWLESS_REPO_PATH)"
        )
    files = [(path, module_name(repo_path, path)) for path in repository_files(repo_path)]
    with (
        _repo_import_path(repo_path.resolve(), {name.split(".", 1)[0] for _, name in files}),
        feast_notes_ignored(),  # an untyped entity's key is typed from the contract
    ):
        for path, name in files:
            try:
                module = importlib.import_module(name)
            except Exception as exc:
                raise InputError(f"feature repo {path}: failed to import: {exc!r}") from exc
            yield module


def load_definitions(repo_path: Path) -> Definitions:
    """Import every ``*.py`` of a repository (fresh each call) and collect its objects."""
    return load_repo_objects(repo_path)[0]


def load_repo_objects(repo_path: Path) -> tuple[Definitions, list[ModuleType]]:
    """The Feast objects a repository declares, and its imported modules."""
    defs = Definitions()
    seen: set[int] = set()
    modules = list(_repo_modules(repo_path))

    def add(bucket: list[Any], obj: Any) -> None:
        if id(obj) not in seen:
            seen.add(id(obj))
            bucket.append(obj)

    for module in modules:
        for value in vars(module).values():
            if isinstance(value, Entity):
                add(defs.entities, value)
            elif isinstance(value, OnDemandFeatureView):
                add(defs.on_demand_feature_views, value)
            elif isinstance(value, FeatureView):
                add(defs.feature_views, value)
                if value.batch_source is not None:
                    add(defs.data_sources, value.batch_source)
            elif isinstance(value, FeatureService):
                add(defs.feature_services, value)
            elif isinstance(value, DataSource):
                add(defs.data_sources, value)
            elif isinstance(value, BaseFeatureView):
                add(defs.not_applied, value)
    return defs, modules


class Store:
    """A typed view over one Feast project: registry objects, configs, Feast reads."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = repo_config(settings)
        self._feast = FeatureStore(config=self.config)

    @property
    def project(self) -> str:
        return str(self.config.project)

    @property
    def feast(self) -> FeatureStore:
        """The underlying ``FeatureStore``, for the Feast comparisons in audits only."""
        return self._feast

    def apply(self, definitions: Definitions, *, pin: Path | None = None) -> list[Any]:
        """Register the definitions and create the online tables (Feast apply).

        ``pin``: the repository the definitions were loaded from; its code is copied and the
        data plane runs that copy from now on (``services.applied``). Without it (definitions
        built in code) the data plane reads the repository's files as they are.

        What the registry held that the repository no longer declares is deleted, as
        ``feast apply`` does (``services.apply_plan``); the deleted objects are returned.

        Join keys an entity leaves untyped get their type from the repository's contracts
        first (``repository.type_keys_from_contracts``), as Feast would infer it from data.
        Definitions Feast refuses (its inference or validation fails) are an ``InputError``
        with Feast's reason on one line; the registry keeps what it held.
        """
        from feast.errors import FeastError

        from services import applied
        from services.apply_plan import stale_objects
        from services.repository import load_repository, type_keys_from_contracts

        source = load_repository(pin or self.settings.repo_path)
        type_keys_from_contracts(definitions, source.contracts)
        try:
            with feast_notes_ignored():
                stale = stale_objects(self._feast, definitions)
                self._feast.apply(definitions.all(), objects_to_delete=stale, partial=False)
        except (FeastError, ValueError, TypeError, OSError) as exc:
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            if len(reason) > MAX_REASON:
                reason = reason[: MAX_REASON - 3] + "..."
            raise InputError(f"Feast refused the definitions: {reason}") from exc
        if pin is not None:
            applied.pin(self.settings, pin)
        else:
            applied.unpin(self.settings)
        self.refresh()
        return stale

    def refresh(self) -> None:
        with feast_notes_ignored():
            self._feast.refresh_registry()
        for name in ("feature_views", "odfvs", "services", "entities", "repository"):
            self.__dict__.pop(name, None)

    @cached_property
    def feature_views(self) -> dict[str, FeatureView]:
        with feast_notes_ignored():
            return {fv.name: fv for fv in self._feast.list_feature_views()}

    @cached_property
    def odfvs(self) -> dict[str, OnDemandFeatureView]:
        with feast_notes_ignored():
            return {v.name: v for v in self._feast.list_on_demand_feature_views()}

    @cached_property
    def services(self) -> dict[str, FeatureService]:
        with feast_notes_ignored():
            return {s.name: s for s in self._feast.list_feature_services()}

    @cached_property
    def repository(self) -> Repository:
        """The repository as applied (``services.applied``): its contracts and on-demand code."""
        from services.applied import repository_path
        from services.repository import load_repository

        return load_repository(repository_path(self.settings))

    @cached_property
    def entities(self) -> dict[str, Entity]:
        with feast_notes_ignored():
            return {e.name: e for e in self._feast.list_entities()}

    def feature_service(self, name: str) -> FeatureService:
        try:
            return self.services[name]
        except KeyError:
            raise UnknownFeatureServiceError(name) from None

    def online_store(self) -> Any:
        """Feast's online store object (same on-disk/in-Redis format we write)."""
        return self._feast._get_provider().online_store

    def close(self) -> None:
        """Release the online store's client and the SQL registry's connection pools."""
        online = self.online_store()
        client = getattr(online, "_client", None)
        if client is not None:
            client.close()
        registry = self._feast._registry  # None until first used; SqlRegistry holds engines
        for name in ("write_engine", "read_engine"):
            engine = getattr(registry, name, None)
            if engine is not None:
                engine.dispose()
