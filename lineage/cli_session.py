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
from datetime import datetime
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
    """The ``LINEAGE_*`` settings; exit 2 with one line naming each bad variable."""
    try:
        return LineageSettings()
    except ValidationError as exc:
        problems = "; ".join(_problem(e["loc"], str(e["msg"])) for e in exc.errors())
        fail(2, f"invalid settings: {problems}")


def _problem(loc: tuple[int | str, ...], message: str) -> str:
    """One settings problem, named by its environment variable (never by the value given)."""
    message = message.removeprefix("Value error, ")
    if not loc:  # a check across fields (the production profile's) names its variables itself
        return message
    return f"LINEAGE_{str(loc[0]).upper()}: {message}"


def parse_time(option: str, value: str | None) -> datetime | None:
    """A time option's text as ``GET /api/v1/...`` reads it: ISO 8601 only, in UTC.

    The HTTP query's own rule (``IsoDateTime``) decides what is a time, so a value the API
    refuses (a bare number, taken by Typer as Unix seconds; a date alone) is refused here too:
    exit 2, one line. No offset means UTC; a time past what UTC can hold (year 9999 at
    -01:00) is clamped as the API clamps it (``queries.aware_utc``).
    """
    if value is None:
        return None
    from pydantic import TypeAdapter

    from lineage.queries import aware_utc
    from lineage.times import IsoDateTime

    try:
        parsed = TypeAdapter(IsoDateTime).validate_python(value)
    except ValidationError:
        fail(2, f"{option} {value!r}: not an ISO 8601 time (e.g. 2026-12-01T10:00:00Z)")
    return aware_utc(parsed)


def time_option(flag: str, meaning: str) -> Any:
    """A time option, read as text and parsed by :func:`parse_time` (not Typer's datetime)."""
    return typer.Option(
        None, flag, metavar="ISO-8601", help=f"{meaning} (ISO-8601; no offset means UTC)."
    )


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
            mismatch = audit.key_mismatch(session, key=key)  # another key would break the chain
            if mismatch is not None:
                fail(2, mismatch)
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


def check_audit_key(settings: LineageSettings) -> None:
    """Exit 2 (one line) when ``LINEAGE_AUDIT_KEY`` does not verify the chain's last entry.

    A service started with another key would append entries that break the chain for good.
    """
    engine = open_engine(settings.database_url)
    try:
        with db_session.session_scope(db_session.make_sessionmaker(engine)) as session:
            mismatch = audit.key_mismatch(session, key=settings.audit_key_bytes)
    except access.DB_ERRORS as exc:
        fail_if_unusable(settings.database_url, exc)
        raise
    finally:
        engine.dispose()
    if mismatch is not None:
        fail(2, mismatch)


JsonOption = typer.Option(False, "--json", help="Print the answer as JSON (stable, for scripts).")


def print_answer(data: Any, as_json: bool, render: cli_render.Render | None = None) -> None:
    """The answer as JSON (``--json``), else as tables for a person."""
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    elif render is not None:
        render(console, json.loads(json.dumps(data, default=str)))
    else:
        console.print_json(json.dumps(data, default=str))
