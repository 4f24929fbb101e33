"""How the lineage CLI fails: one line on stderr and the exit code of DESIGN.md's table.

Owns the CLI's failure messages about its database. A database it cannot use (missing, not
listening, refusing the login, not migrated, busy) is exit 3 ("a dependency is unavailable"),
with what is wrong and where (``lineage.db.availability.diagnose``) and what to do about it;
never the driver's multi-line message or a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer

from lineage.lazy import lazy_module

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from lineage import access
    from lineage.db import availability, migrate, session
else:  # imported when a command runs, not for --help or a usage error
    access = lazy_module("lineage.access")
    availability = lazy_module("lineage.db.availability")
    migrate = lazy_module("lineage.db.migrate")
    session = lazy_module("lineage.db.session")


def fail(code: int, message: str) -> NoReturn:
    """Print ``error: <message>`` on stderr and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (its class name when it has none)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# What to do about each ``DatabaseUnavailable.problem``, after the one line saying what is wrong.
_REMEDY = {
    "missing": "create it ({createdb}) then run skewless lineage migrate",
    "not_migrated": "run skewless lineage migrate",
    "not_listening": "start PostgreSQL there or point LINEAGE_DATABASE_URL at a running server",
    "login_refused": "fix the user or password in LINEAGE_DATABASE_URL",
    "unavailable": "retry when it accepts connections, or check LINEAGE_DATABASE_URL",
}


def fail_if_unusable(url: str, exc: BaseException) -> None:
    """Exit 3 with one line when ``exc`` says the lineage database cannot be used; else return."""
    problem = availability.diagnose(url, exc)
    if problem is None:
        return
    host, _, port = problem.where.partition(":")
    user = f" -U {problem.user}" if problem.user else ""
    createdb = f"createdb -h {host} -p {port}{user} {problem.database}"
    remedy = _REMEDY.get(problem.problem, _REMEDY["unavailable"]).format(createdb=createdb)
    fail(3, f"{problem}: {remedy}")


def open_engine(url: str) -> Engine:
    """``make_engine``, with one line and exit 3 when a SQLite file's folder cannot be made."""
    try:
        return session.make_engine(url)
    except OSError as exc:
        _fail_folder(exc)


def _fail_folder(exc: OSError) -> NoReturn:
    """Exit 3: the folder of a SQLite database file cannot be created."""
    fail(
        3,
        f"lineage database folder {exc.filename} cannot be created ({exc.strerror}): "
        "create it or point LINEAGE_DATABASE_URL elsewhere",
    )


def migrate_database(url: str) -> None:
    """``upgrade_head``, with one line and exit 3 when the database cannot be migrated."""
    from alembic.util import CommandError

    try:
        migrate.upgrade_head(url)
    except OSError as exc:  # a SQLite file's folder
        _fail_folder(exc)
    except access.DB_ERRORS as exc:
        fail_if_unusable(url, exc)
        fail(3, f"could not migrate the lineage database: {first_line(exc)}")
    except CommandError as exc:  # e.g. the database is at a revision this release does not know
        fail(3, f"could not migrate the lineage database: {first_line(exc)}")
