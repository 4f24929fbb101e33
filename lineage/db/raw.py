"""Prebuilt statements run on psycopg directly (PostgreSQL only): the intake writer's hot path.

SQLAlchemy's execution path costs a few hundred microseconds of CPU per statement, and the intake
writer runs about a dozen small statements per batch: a fifth of its time went there. Each
statement here is compiled once to SQL text and run on the session's own psycopg connection, in
the same transaction; rows come back as named tuples. Only statements whose text is constant
belong here (array parameters, no expanding IN lists). psycopg's DataError (a value PostgreSQL
cannot hold) is raised as SQLAlchemy's, so callers see the same exception on every path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

_COMPILED: dict[ClauseElement, tuple[str, dict[str, Any]]] = {}


def execute(session: Session, stmt: ClauseElement, params: Mapping[str, Any]) -> list[Any]:
    """Run ``stmt`` with ``params`` and return every row (named tuples); [] if it returns none."""
    connection = session.connection()
    compiled = _COMPILED.get(stmt)
    if compiled is None:
        form = stmt.compile(dialect=connection.dialect)
        compiled = _COMPILED[stmt] = (str(form), dict(form.params))  # literals' own values
    text, values = compiled
    values = {**values, **params}
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection), "raw statements run on PostgreSQL only"
    with driver.cursor(row_factory=namedtuple_row) as cursor:
        try:
            cursor.execute(text, values)
        except psycopg.DataError as exc:
            raise DataError(text, values, exc) from exc
        return cursor.fetchall() if cursor.description else []
