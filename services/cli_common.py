"""What every ``skewless`` command module shares: consoles, exit codes, settings and the store.

Exit codes, in one place (``fail``): 0 success; 1 a verdict against the data (batch rejected,
parity mismatch, governance problems); 2 unusable input (missing/corrupt file, unknown source,
malformed request); 3 a dependency unavailable (the online store, the SQL registry).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer
from pydantic import AliasChoices, ValidationError
from rich.console import Console

from services.errors import (
    ContractError,
    GovernanceError,
    InputError,
    OnlineStoreUnavailableError,
    RegistryUnavailableError,
    RequestError,
    SkewlessError,
)
from services.settings import Settings, get_settings, settings_for_repo

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JSON_HELP = "Print the answer as JSON (stable, for scripts)."


def fail(exc: Exception) -> NoReturn:
    if isinstance(exc, GovernanceError):
        for line in exc.problems:
            err.print(line, markup=False)
        raise typer.Exit(1)
    if isinstance(exc, InputError | RequestError | ContractError):
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2)
    if isinstance(exc, OnlineStoreUnavailableError):
        err.print(f"error: {exc}; is it running (REDIS_URL)?", markup=False)
        raise typer.Exit(3)
    if isinstance(exc, RegistryUnavailableError):
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(3) from None
    err.print(f"error: {exc}", markup=False)
    raise typer.Exit(1)


@contextmanager
def errors(settings: Settings | None = None) -> Iterator[None]:
    """Map the data plane's errors to one line and an exit code; ``settings`` name the registry."""
    try:
        yield
    except SkewlessError as exc:
        fail(exc)
    except typer.Exit:  # a RuntimeError: a command (or settings_for) has already said why
        raise
    except Exception as exc:
        url = (settings or settings_for()).effective_registry_url
        registry = RegistryUnavailableError.of(exc, url)
        if registry is None:
            raise
        fail(registry)


def settings_for(repo: Path | None = None) -> Settings:
    """The process settings (for ``repo`` when given), with their data dir created.

    Every command reads its settings here, so a bad variable, an unusable
    ``feature_store.yaml`` or a data dir that cannot be created is exit 2, one line.
    """
    try:
        settings = get_settings() if repo is None else settings_for_repo(repo)
    except ValidationError as exc:
        problems = "; ".join(_problem(e["loc"], str(e["msg"])) for e in exc.errors())
        err.print(f"error: invalid settings: {problems}", markup=False)
        raise typer.Exit(2) from None
    except InputError as exc:  # the repository's feature_store.yaml
        fail(exc)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        err.print(
            f"error: invalid settings: SKEWLESS_DATA_DIR: cannot create {settings.data_dir} "
            f"({exc.strerror or exc}); point it at a writable directory",
            markup=False,
        )
        raise typer.Exit(2) from None
    return settings


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    """One settings problem, named by the environment variable behind the field."""
    message = message.removeprefix("Value error, ")
    if not loc:
        return message
    field = Settings.model_fields.get(str(loc[0]))
    alias = field.validation_alias if field is not None else None
    name = alias.choices[0] if isinstance(alias, AliasChoices) else f"SKEWLESS_{loc[0]}".upper()
    return f"{name}: {message}"


def open_store(settings: Settings | None = None, *, note: bool = True) -> Any:
    """The project's store; ``note``: say on stderr when the repository has unapplied changes."""
    from services.store import Store

    settings = settings or settings_for()
    if note:
        note_unapplied(settings)
    return Store(settings)


def note_unapplied(settings: Settings) -> None:
    """Say on stderr when the working tree differs from the applied code the command runs."""
    from services.applied import unapplied_note

    if line := unapplied_note(settings):
        err.print(line, markup=False)


def utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
