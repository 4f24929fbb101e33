"""What every ``skewless lineage`` command shares: settings, an audited session, output.

Every command that reads lineage data or manages tokens appends an audit entry first (principal
``local:<os user>``, source ``cli``), through the same hash-chained log the service writes.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from lineage import cli_render
from lineage.cli_failures import fail, fail_if_unusable, first_line, open_engine
from lineage.errors import LineageError
from lineage.lazy import lazy_module
from lineage.settings import LineageSettings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from lineage import access, audit
    from lineage.db import session as db_session
else:  # imported when a command runs, not for --help or a usage error
    access = lazy_module("lineage.access")
    audit = lazy_module("lineage.audit")
    db_session = lazy_module("lineage.db.session")

console = Console()


def settings_or_exit() -> LineageSettings:
    try:
        return LineageSettings()
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        fail(2, f"invalid LINEAGE_* settings: {reasons}")


def cli_principal() -> str:
    """The audit log's name for whoever runs the CLI: ``local:<os user>``.

    The CLI reads the database directly, as an unrestricted caller; the audit log still says who.
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (e.g. some containers)
        user = f"uid{os.getuid()}"
    return f"local:{user}"


@contextmanager
def audited_session(audit: tuple[str, str] | None = None) -> Iterator[Session]:
    """A session in one transaction; with ``audit=(command, object)``, audited first.

    The audit entry (principal ``local:<os user>``, source ``cli``) is committed in its own
    transaction before the command reads anything, so a command that fails is still recorded,
    and a command whose entry cannot be written does not run (exit 1).
    """
    settings = settings_or_exit()
    engine = open_engine(settings.database_url)
    try:
        maker = db_session.make_sessionmaker(engine)
        if audit is not None:
            _audit(maker, *audit, key=settings.audit_key_bytes, url=settings.database_url)
        with db_session.session_scope(maker) as session:
            yield session
    except access.DB_ERRORS as exc:
        fail_if_unusable(settings.database_url, exc)
        raise
    except LineageError as exc:
        fail(2, str(exc))
    finally:
        engine.dispose()


def _audit(
    maker: sessionmaker[Session], command: str, obj: str, *, key: bytes | None, url: str
) -> None:
    try:
        with db_session.session_scope(maker) as session:
            audit.append_audit(
                session,
                principal=cli_principal(),
                action=f"cli lineage {command}",
                obj=obj,
                allowed=True,
                source_address="cli",
                key=key,
            )
    except access.DB_ERRORS as exc:
        fail_if_unusable(url, exc)
        fail(1, f"could not write the audit log, nothing was read: {first_line(exc)}")


JsonOption = typer.Option(False, "--json", help="Print the answer as JSON (stable, for scripts).")


def print_answer(data: Any, as_json: bool, render: cli_render.Render | None = None) -> None:
    """The answer as JSON (``--json``), else as tables for a person."""
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    elif render is not None:
        render(console, json.loads(json.dumps(data, default=str)))
    else:
        console.print_json(json.dumps(data, default=str))
