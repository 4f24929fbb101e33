"""Statements run on psycopg directly (PostgreSQL only): the intake writer's and graph's hot paths.

SQLAlchemy's execution path costs a few hundred microseconds of CPU per statement, and its ORM
row handling ~10 microseconds per row. The intake writer's statements (the token lookup, the
intake lock, a batch's one read and one write) and the graph query's walk and node rows run
here instead, on the session's own psycopg connection and in its transaction: ``execute`` takes
a prebuilt SQLAlchemy statement, compiled to text once; ``execute_text`` takes SQL text. Only
constant texts belong here (array or JSON parameters, no expanding IN lists), so that psycopg
prepares each once. psycopg's errors are raised as SQLAlchemy's (a DataError for a value
PostgreSQL cannot hold), so callers see the same exceptions on every path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row, tuple_row
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

_COMPILED: dict[ClauseElement, tuple[str, dict[str, Any]]] = {}


def execute(session: Session, stmt: ClauseElement, params: Mapping[str, Any]) -> list[Any]:
    """Run ``stmt`` with ``params`` and return every row (named tuples); [] if it returns none."""
    text, values = _compiled(session, stmt, params)
    return _run(session, text, values, namedtuple_row)


def _compiled(
    session: Session, stmt: ClauseElement, params: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    compiled = _COMPILED.get(stmt)
    if compiled is None:
        form = stmt.compile(dialect=session.connection().dialect)
        compiled = _COMPILED[stmt] = (str(form), dict(form.params))  # literals' own values
    text, values = compiled
    return text, {**values, **params}


def execute_text(
    session: Session, text: str, params: Mapping[str, Any] | Sequence[Any]
) -> list[Any]:
    """Run a constant SQL text (psycopg placeholders) and return every row as a tuple."""
    return _run(session, text, params, tuple_row)


def _run(
    session: Session,
    text: str,
    values: Mapping[str, Any] | Sequence[Any],
    rows: Any,
) -> list[Any]:
    connection = session.connection()
    driver = connection.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise TypeError(f"raw statements run on PostgreSQL only, not {type(driver).__name__}")
    with driver.cursor(row_factory=rows) as cursor:
        try:
            cursor.execute(text, values)
        except psycopg.Error as exc:
            raise _translated(connection, driver, text, values, exc) from exc
        return cursor.fetchall() if cursor.description else []


def _translated(
    connection: Connection, driver: psycopg.Connection[Any], text: str, values: Any, exc: Exception
) -> StatementError:
    """Turn psycopg's error into what SQLAlchemy's own execution raises.

    That is its exception class of the same name, with a connection the database dropped
    invalidated so that the pool never hands it out again.
    """
    lost = driver.broken
    if lost:
        connection.invalidate(exc)
    return DBAPIError.instance(text, values, exc, psycopg.Error, connection_invalidated=lost)
