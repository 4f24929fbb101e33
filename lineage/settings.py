"""Process settings for the lineage plane: one pydantic-settings class, prefix ``LINEAGE_``.

Owns every tunable of the lineage service and CLI. Unsafe values (an empty bootstrap admin token,
a missing or short audit-chain key, an embedded SQLite database) are refused in the
``production`` profile. Variables come from the environment, then ``./.env``, as the data
plane's settings read them; without ``LINEAGE_DATABASE_URL`` the database is the SQLite file
the data plane writes, ``lineage.db`` in ``SKEWLESS_DATA_DIR`` (``./data`` by default).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024
MIN_SECRET_CHARS = 32
ENV_FILE = ".env"
DEFAULT_DATA_DIR = "data"
# The SQLAlchemy drivers the lineage database runs on, after ``normalize_url`` (postgres:// and
# postgresql:// mean psycopg 3): its PostgreSQL fast paths use psycopg 3's connection directly.
DATABASE_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")
DATABASE_URL_FORMS = "sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"


def environment_setting(name: str) -> str:
    """A variable from the environment, else from ``./.env`` (where pydantic-settings looks)."""
    value = os.environ.get(name)
    if value is None and Path(ENV_FILE).is_file():
        from dotenv import dotenv_values

        value = dotenv_values(ENV_FILE).get(name)
    return (value or "").strip()


def data_dir() -> Path:
    """The data plane's ``SKEWLESS_DATA_DIR`` (``./data`` when unset)."""
    return Path(environment_setting("SKEWLESS_DATA_DIR") or DEFAULT_DATA_DIR)


def default_database_url() -> str:
    """The lineage database the data plane writes when ``LINEAGE_DATABASE_URL`` is unset."""
    return f"sqlite:///{(data_dir() / 'lineage.db').resolve()}"


class LineageSettings(BaseSettings):
    """Settings of the lineage service, read from ``LINEAGE_*`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="LINEAGE_", env_file=ENV_FILE, env_ignore_empty=True, extra="ignore", frozen=True
    )

    database_url: str = Field(default_factory=default_database_url)
    max_body_bytes: int = Field(default=MIB, gt=0)
    max_depth: int = Field(default=20, gt=0)
    # Where POST /api/v1/lineage is written: a child process (the server's GIL stays free for
    # HTTP) or a thread of the server (no extra process; what in-process tests use).
    intake_writer: Literal["process", "thread"] = "process"
    # How long the process writer waits for the producers its last batch answered to send
    # their next events, so that they share one transaction (group commit's commit delay).
    intake_linger_ms: float = Field(default=0.0, ge=0, le=50)
    page_size_max: int = Field(default=500, gt=0)
    # Requests a second per bearer token and per client address (0: no limit); a bucket holds
    # two seconds of its rate. Behind a proxy every client shares its address.
    rate_per_token: float = Field(default=5000.0, ge=0)
    rate_per_address: float = Field(default=5000.0, ge=0)
    profile: Literal["local", "production"] = "local"
    bootstrap_admin_token: str = ""
    spool_path: str = ""  # empty: lineage-spool.jsonl in SKEWLESS_DATA_DIR (resolve_spool_path)
    # The audit chain's HMAC key, kept outside the database: whoever can write the database
    # cannot re-hash the chain after an edit without it. Empty: plain SHA-256 (local only).
    audit_key: SecretStr = SecretStr("")

    @property
    def audit_key_bytes(self) -> bytes | None:
        """The audit chain's key as the chain functions take it (None: plain SHA-256)."""
        return audit_key_bytes(self.audit_key.get_secret_value())

    @field_validator("database_url")
    @classmethod
    def _database_url_opens(cls, value: str) -> str:
        check_database_url(value)
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> LineageSettings:
        if self.profile != "production":
            return self
        if len(self.bootstrap_admin_token) < MIN_SECRET_CHARS:
            msg = "production profile needs LINEAGE_BOOTSTRAP_ADMIN_TOKEN of at least 32 characters"
            raise ValueError(msg)
        if len(self.audit_key.get_secret_value()) < MIN_SECRET_CHARS:
            msg = "production profile needs LINEAGE_AUDIT_KEY of at least 32 characters"
            raise ValueError(msg)
        if self.database_url.startswith("sqlite"):
            msg = "production profile needs a PostgreSQL LINEAGE_DATABASE_URL, not SQLite"
            raise ValueError(msg)
        return self


def check_database_url(url: str) -> None:
    """Refuse a URL the lineage database cannot be opened with, before any engine is made.

    Raises:
        ValueError: it does not parse, or names a driver other than SQLite or psycopg 3. The
            message shows the URL with its password masked.

    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from lineage.db.session import normalize_url

    try:
        parsed = make_url(normalize_url(url))
    except (ArgumentError, ValueError):  # ValueError: a port that is no number
        shown = re.sub(r":[^:/@]*@", ":***@", url)
        raise ValueError(f"{shown!r} is not a database URL; use {DATABASE_URL_FORMS}") from None
    if parsed.drivername not in DATABASE_DRIVERS:
        raise ValueError(
            f"{parsed.drivername}:// is not a database the lineage plane can use; "
            f"use {DATABASE_URL_FORMS}"
        )


def audit_key_bytes(key: str) -> bytes | None:
    """``LINEAGE_AUDIT_KEY``'s text as the audit chain's key: its UTF-8 bytes, None when empty."""
    return key.encode("utf-8") if key else None


@lru_cache(maxsize=1)
def get_settings() -> LineageSettings:
    """Return the process-wide settings, read once from the environment.

    Returns:
        The cached ``LineageSettings``.

    """
    return LineageSettings()
