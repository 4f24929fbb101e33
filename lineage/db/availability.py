"""Whether a database error means the lineage database cannot be used, and why, in one line.

The service answers 503 for an error ``is_unavailable`` accepts (a connection refused or lost,
a database not accepting connections, a SQLite file locked or unopenable), never a 500: the
request was fine and may be sent again. The CLI asks ``diagnose`` to turn the driver's
multi-line message into a ``DatabaseUnavailable`` naming the problem (the database does not
exist, nothing listens there, the login was refused, it is not migrated) and where, which it
prints as one line with what to do. Both read the driver's own error: psycopg's class and
SQLSTATE for PostgreSQL, the message for SQLite (whose ``OperationalError`` also covers SQL
mistakes, which are bugs and stay 500s).
"""

from __future__ import annotations

import re
import sqlite3

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from lineage.db.session import normalize_url
from lineage.errors import DatabaseUnavailable

# SQLite conditions that are about the file or another writer, not about the statement.
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file", "disk i/o error")
# psycopg raises OperationalError for SQLSTATE classes 08 (connection), 53 (resources),
# 55 (lock not available), 57 (operator intervention, e.g. admin shutdown) and 58 (system), and
# for failures before any SQLSTATE exists (nothing listening, login refused). Class 54 (a
# statement over a program limit) is the request's fault, not the database's.
_NOT_UNAVAILABLE_CLASSES = ("54",)
_UNDEFINED_TABLE = "42P01"
_MISSING_DATABASE = re.compile(r'database "(?P<name>[^"]+)" does not exist')
_LOGIN_REFUSED = ("password authentication failed", "no password supplied", "role ", "pg_hba.conf")
_NOT_LISTENING = ("connection refused", "could not connect", "timeout expired", "no route to host")


def _driver_error(exc: BaseException) -> BaseException:
    """The DBAPI error under SQLAlchemy's wrapper (the error itself when it is not wrapped)."""
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached or used now, not that a request is bad.

    Args:
        exc: An exception raised while talking to the lineage database.

    Returns:
        True for a refused, lost or timed-out connection, a database that does not accept
        connections, an exhausted pool, and a locked or unopenable SQLite file.

    """
    if isinstance(exc, PoolTimeout):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = _driver_error(exc)
    if isinstance(orig, psycopg.OperationalError):
        return not (orig.sqlstate or "").startswith(_NOT_UNAVAILABLE_CLASSES)
    if isinstance(orig, psycopg.InterfaceError):  # the connection is closed or broken
        return True
    if isinstance(orig, sqlite3.OperationalError):
        return str(orig).lower().startswith(_SQLITE_UNAVAILABLE)
    return False


def _first_line(exc: BaseException) -> str:
    text = str(_driver_error(exc)).strip()
    # libpq repeats its context: 'connection failed: connection to server at "h", port p failed:
    # FATAL:  <reason>'; the reason is what a reader needs.
    text = text.rsplit(" failed: ", 1)[-1]
    text = re.sub(r"^(FATAL|ERROR):\s+", "", text)
    return (text.splitlines() or [type(exc).__name__])[0].strip()


def _place(url: str) -> tuple[str, str, str]:
    """(where, database, user) of ``url``, without its password."""
    try:
        parsed = make_url(normalize_url(url))
    except ArgumentError:
        return "the configured URL", "", ""
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite":
        return f"file {database or ':memory:'}", database, ""
    host = parsed.host or "localhost"
    return f"{host}:{parsed.port or 5432}", database, parsed.username or ""


def diagnose(url: str, exc: BaseException) -> DatabaseUnavailable | None:
    """Name what keeps the lineage database at ``url`` from being used, if ``exc`` says so.

    Args:
        url: The database URL the command used (its password is never repeated).
        exc: What the driver or SQLAlchemy raised.

    Returns:
        The problem (``missing``, ``not_listening``, ``login_refused``, ``not_migrated`` or
        ``unavailable``) with where it is, or None when ``exc`` is about something else.

    """
    if not isinstance(exc, SQLAlchemyError | psycopg.Error | sqlite3.Error):
        return None
    where, database, user = _place(url)
    reason = _first_line(exc)
    lowered = reason.lower()
    orig = _driver_error(exc)
    if missing := _MISSING_DATABASE.search(reason):
        return DatabaseUnavailable(
            problem="missing", where=where, database=missing["name"], user=user, reason=reason
        )
    if getattr(orig, "sqlstate", None) == _UNDEFINED_TABLE or lowered.startswith("no such table"):
        return DatabaseUnavailable(
            problem="not_migrated", where=where, database=database, user=user, reason=reason
        )
    if not is_unavailable(exc):
        return None
    problem = "unavailable"
    if any(marker in lowered for marker in _LOGIN_REFUSED):
        problem = "login_refused"
    elif any(marker in lowered for marker in _NOT_LISTENING):
        problem = "not_listening"
    return DatabaseUnavailable(
        problem=problem, where=where, database=database, user=user, reason=reason
    )
