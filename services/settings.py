"""Process settings for the data plane (CLI, SDK, feature server).

One pydantic-settings class, read from ``SKEWLESS_*`` variables (plus the
unprefixed ``REDIS_URL`` and ``LINEAGE_*`` variables that the rest of the stack
shares). Nothing here is built at import time: call :func:`get_settings`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_PROFILE = "local"
_UNSAFE_TOKENS = {"", "changethis", "dev-token"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# Feast's rule for project names (``feast.repo_operations.is_valid_name``), checked here so a
# bad name is one settings line, not Feast's traceback when the store opens.
_PROJECT = re.compile(r"^(?![_-])[\w-]+$")
_REDIS_SCHEMES = ("redis", "rediss", "unix")
# SQLAlchemy URL schemes Feast's SQL registry can use, each with the driver module it loads:
# a scheme whose driver is not installed fails as surely as an unknown one.
_REGISTRY_DRIVERS = {
    "postgresql+psycopg": "psycopg",
    "postgresql": "psycopg2",
    "postgresql+psycopg2": "psycopg2",
    "postgresql+pg8000": "pg8000",
    "mysql+pymysql": "pymysql",
    "mysql": "MySQLdb",
    "mysql+mysqldb": "MySQLdb",
    "sqlite": "sqlite3",
    "sqlite+pysqlite": "sqlite3",
}


BUNDLED_REPO = Path(__file__).resolve().parent.parent / "feature_repo"


def _default_repo() -> Path:
    """``feature_repo/`` in the working directory, where ``feast init`` puts it, if present.

    Otherwise the demo repository shipped with Skewless, so that ``skewless demo`` runs
    anywhere. It used to be the shipped one always: in a Feast project's root, ``skewless
    apply`` registered the demo's definitions instead of the project's own.
    """
    here = Path.cwd() / "feature_repo"
    return here if (here / "feature_store.yaml").is_file() else BUNDLED_REPO


class Settings(BaseSettings):
    """Settings for every data-plane process."""

    model_config = SettingsConfigDict(
        env_prefix="SKEWLESS_", env_file=".env", extra="ignore", populate_by_name=True
    )

    profile: Literal["local", "production"] = Field(
        default="local", description="'local' allows the embedded defaults and dev tokens."
    )
    data_dir: Path = Field(default=Path("data"), description="Root of all local state.")
    repo_path: Path = Field(
        default_factory=_default_repo,
        description=(
            "Feast repository holding the definitions: ./feature_repo when there is one (Feast's "
            "own layout), else the demo repository shipped with Skewless."
        ),
    )
    project: str = Field(default="skewless", description="Feast project name.")
    online_store: Literal["sqlite", "redis", "redis_cluster"] = Field(
        default="sqlite",
        description="Online store backend: sqlite, redis (one server) or redis_cluster.",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "SKEWLESS_REDIS_URL"),
        description="Redis URL when SKEWLESS_ONLINE_STORE=redis.",
    )
    redis_timeout_s: float = Field(default=1.0, gt=0, description="Socket timeout for Redis calls.")
    redis_cluster_nodes: str = Field(
        default="",
        description="Startup nodes of a Redis Cluster (host:port,host:port) when "
        "SKEWLESS_ONLINE_STORE=redis_cluster; the others are discovered.",
    )
    offline_engine: Literal["duckdb", "spark"] = Field(
        default="duckdb",
        description="Point-in-time engine for training sets and materialization: duckdb "
        "(embedded) or spark.",
    )
    spark_master: str = Field(
        default="local[*]",
        description="Spark master when SKEWLESS_OFFLINE_ENGINE=spark (a cluster URL in "
        "production).",
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description="Extra Spark conf (JSON object) when SKEWLESS_OFFLINE_ENGINE=spark.",
    )
    registry_url: str = Field(
        default="",
        description="Feast registry: a SQL URL, or a path for Feast's file registry; empty "
        "means a SQLite file in the data dir.",
    )
    online_path: Path | None = Field(
        default=None, description="SQLite online store file; empty means online.db in the data dir."
    )
    lineage_database_url: str = Field(
        default="",
        validation_alias=AliasChoices("LINEAGE_DATABASE_URL", "SKEWLESS_LINEAGE_DATABASE_URL"),
        description="Lineage database; empty means a SQLite file in the data dir.",
    )
    lineage_url: str = Field(
        default="",
        validation_alias=AliasChoices("LINEAGE_URL", "SKEWLESS_LINEAGE_URL"),
        description="Lineage service base URL; empty means in-process intake.",
    )
    lineage_token: str = Field(
        default="",
        validation_alias=AliasChoices("LINEAGE_TOKEN", "SKEWLESS_LINEAGE_TOKEN"),
        description="Bearer token the data plane uses to send lineage events.",
    )
    lineage_spool: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("LINEAGE_SPOOL_PATH", "SKEWLESS_LINEAGE_SPOOL_PATH"),
        description="The lineage emitter's spool file; empty means lineage-spool.jsonl in the "
        "data dir (what `skewless lineage flush` reads too).",
    )
    lineage_audit_key: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("LINEAGE_AUDIT_KEY", "SKEWLESS_LINEAGE_AUDIT_KEY"),
        description="HMAC key of the lineage audit chain (the feature server's read audit); "
        "empty means plain SHA-256, local profile only.",
    )
    serve_max_entities: int = Field(default=1000, ge=1, description="Entity rows per request cap.")
    registry_ttl_s: float = Field(
        default=10.0, ge=0, description="How old a server's registry snapshot may get."
    )
    serve_max_body_bytes: int = Field(default=1_048_576, ge=1, description="Request body cap.")
    serve_rate_per_token: float = Field(
        default=5000.0,
        ge=0,
        description="Requests a second per bearer token (429 beyond; 0: no limit; per process).",
    )
    serve_rate_per_address: float = Field(
        default=5000.0,
        ge=0,
        description="Requests a second per client address (429 beyond; 0: no limit; behind a "
        "proxy every client shares its address).",
    )
    serve_audit_commit_s: float = Field(
        default=2.0,
        gt=0,
        description="How often the read-audit writer commits to the audit log; entries are "
        "durable in the write-ahead log (<data dir>/audit-wal) before the read is answered.",
    )
    serve_log_sample_rate: float = Field(
        default=0.1, ge=0.0, le=1.0, description="Share of served rows logged for audits."
    )
    serve_token: str = Field(
        default="", description="Static bearer token for the feature server (local profile)."
    )
    ingest_batch_rows: int = Field(
        default=500_000,
        gt=0,
        description="Rows a file is ingested in at a time: what bounds ingestion's memory. A "
        "file with more rows streams through the contract batch by batch.",
    )
    ingest_memory_limit: str = Field(
        default="256MB",
        pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$",
        description="DuckDB's memory cap while a streamed file is checked for duplicate keys "
        "and its entities are written online (it spills to disk beyond), e.g. 256MB.",
    )
    future_horizon: timedelta = Field(
        default=timedelta(days=1),
        ge=timedelta(0),
        description="How far past the write instant an event or created timestamp may lie; "
        "rows beyond it are quarantined (a duration: 1d, 6h, 90m, seconds, or ISO 8601 P1D).",
    )

    @field_validator("lineage_spool", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("future_horizon", mode="before")
    @classmethod
    def _short_duration(cls, value: Any) -> Any:
        """Accept ``1d``/``6h``/``30m``/``45s`` besides pydantic's seconds and ISO 8601."""
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            return value
        return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])

    @field_validator("project")
    @classmethod
    def _feast_project_name(cls, value: str) -> str:
        if not _PROJECT.match(value):
            raise ValueError(
                f"{value!r} is not a Feast project name (letters, digits, underscores and "
                "hyphens, not starting with an underscore or hyphen)"
            )
        return value

    @field_validator("registry_url")
    @classmethod
    def _registry_scheme(cls, value: str) -> str:
        """A SQL registry URL whose SQLAlchemy dialect and driver are here (else a path)."""
        if "://" not in value:
            return value
        scheme = value.split("://", 1)[0].lower()
        usable = [s for s, module in _REGISTRY_DRIVERS.items() if find_spec(module) is not None]
        if scheme not in usable:
            raise ValueError(
                f"{scheme}:// is not a registry URL Skewless can open; use "
                f"{', '.join(f'{s}://' for s in usable)} (e.g. postgresql+psycopg://user@host/db "
                "or sqlite:////abs/registry.db), or a file path"
            )
        return value

    @model_validator(mode="after")
    def _redis_url_parses(self) -> Settings:
        """REDIS_URL as redis-py reads it, when the online store is one Redis server."""
        if self.online_store != "redis":
            return self
        parsed = urlparse(self.redis_url)
        if parsed.scheme not in _REDIS_SCHEMES:  # the URL itself may hold a password: not shown
            raise ValueError(
                "REDIS_URL must start with redis://, rediss:// or unix:// "
                "(e.g. redis://127.0.0.1:6379/0)"
            )
        try:
            parsed.port  # noqa: B018 - urllib checks the port when it is read
        except ValueError:
            raise ValueError("REDIS_URL: the port is not a number in 0..65535") from None
        db = parsed.path.strip("/")
        if parsed.scheme != "unix" and db and not db.isdigit():
            raise ValueError(f"REDIS_URL: database {db!r} is not a number (redis://host:port/0)")
        return self

    @model_validator(mode="after")
    def _sqlite_tables_need_plain_names(self) -> Settings:
        if self.online_store == "sqlite" and "-" in self.project:
            raise ValueError(
                f"SKEWLESS_PROJECT {self.project!r}: a project with a SQLite online store cannot "
                "contain hyphens (Feast names its tables after the project)"
            )
        return self

    @model_validator(mode="after")
    def _cluster_needs_nodes(self) -> Settings:
        if self.online_store == "redis_cluster" and not self.cluster_nodes:
            raise ValueError(
                "SKEWLESS_ONLINE_STORE=redis_cluster needs SKEWLESS_REDIS_CLUSTER_NODES "
                "(host:port,host:port)"
            )
        return self

    @property
    def uses_redis(self) -> bool:
        """Whether the online store is Redis, one server or a cluster (same key layout)."""
        return self.online_store in ("redis", "redis_cluster")

    @property
    def cluster_nodes(self) -> list[tuple[str, int]]:
        """``SKEWLESS_REDIS_CLUSTER_NODES`` as (host, port) pairs."""
        out = []
        for part in self.redis_cluster_nodes.split(","):
            host, _, port = part.strip().rpartition(":")
            if not part.strip():
                continue
            if not host or not port.isdigit():
                raise ValueError(f"SKEWLESS_REDIS_CLUSTER_NODES: {part.strip()!r} is not host:port")
            out.append((host, int(port)))
        return out

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if (
            self.profile != LOCAL_PROFILE
            and self.serve_token in _UNSAFE_TOKENS
            and not self.lineage_database_url
        ):
            raise ValueError(
                "SKEWLESS_PROFILE=production needs SKEWLESS_SERVE_TOKEN or a lineage "
                "database holding tokens; refusing the local defaults"
            )
        if (
            self.profile != LOCAL_PROFILE
            and self.lineage_database_url
            and len(self.lineage_audit_key.get_secret_value()) < 32
        ):
            raise ValueError(
                "SKEWLESS_PROFILE=production with LINEAGE_DATABASE_URL needs LINEAGE_AUDIT_KEY "
                "of at least 32 characters (the key of the lineage audit chain)"
            )
        return self

    @property
    def offline_dir(self) -> Path:
        """The project's immutable dataset versions: one folder per source."""
        return self._project_dir("offline")

    @property
    def quarantine_dir(self) -> Path:
        """The project's quarantined rows: one folder per source."""
        return self._project_dir("quarantine")

    @property
    def training_dir(self) -> Path:
        """The project's training sets: one folder per training-set name."""
        return self._project_dir("training_sets")

    @property
    def served_dir(self) -> Path:
        """The project's served-feature logs: one folder per feature service."""
        return self._project_dir("served")

    def _project_dir(self, kind: str) -> Path:
        from services.data_layout import project_dir  # brings an older data dir up to date

        return project_dir(self.data_dir, kind, self.project)

    @property
    def online_sqlite_path(self) -> Path:
        return self.online_path or self.data_dir / "online.db"

    @property
    def effective_registry_url(self) -> str:
        return self.registry_url or f"sqlite:///{(self.data_dir / 'registry.db').resolve()}"

    @property
    def effective_lineage_database_url(self) -> str:
        return self.lineage_database_url or f"sqlite:///{(self.data_dir / 'lineage.db').resolve()}"

    @property
    def lineage_spool_path(self) -> Path:
        """The emitter's spool: ``LINEAGE_SPOOL_PATH``, else lineage-spool.jsonl in the data dir."""
        from lineage.emitter import resolve_spool_path

        return resolve_spool_path(self.lineage_spool, self.data_dir)


def with_repo_yaml(settings: Settings) -> Settings:
    """``settings`` completed by its repository's ``feature_store.yaml`` where not explicit."""
    from services.errors import InputError
    from services.repo_yaml import yaml_problem, yaml_settings

    given = settings.model_fields_set
    found = yaml_settings(settings.repo_path, given)
    update = {k: v for k, v in found.items() if k not in given}
    try:
        return settings.model_validate({**settings.model_dump(exclude_unset=True), **update})
    except ValidationError as exc:  # a value the yaml gave: name the file, not a variable
        problem = yaml_problem(settings.repo_path, exc, update)
        if problem is None:
            raise
        raise InputError(problem) from None


@lru_cache(maxsize=1)
def environment_settings() -> Settings:
    """The settings the environment gives (variables and ``.env``), before the repository."""
    return Settings()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (cached): environment, then the repository's yaml."""
    return with_repo_yaml(environment_settings())


def reset_settings() -> None:
    """Forget the cached settings (after the environment changed)."""
    environment_settings.cache_clear()
    get_settings.cache_clear()


def settings_for_repo(repo: Path) -> Settings:
    """The process settings for another repository (``--repo``)."""
    base = environment_settings().model_copy(update={"repo_path": repo})
    return with_repo_yaml(base)
