"""Writing a batch of new rows to several tables with one statement, ids reserved beforehand.

The intake writer and the audit log insert whole batches of rows whose keys they already know.
Ids of new rows are reserved first (``allocate_ids``), so rows that reference each other can be
built in memory and written together. On PostgreSQL, ``insert_all`` sends every table's rows as
one JSON document each, expanded by ``json_populate_recordset`` in data-modifying CTEs: one
statement and one round trip for the whole batch, whatever the number of tables and rows, with a
constant text PostgreSQL prepares once. Foreign keys are checked at the end of that statement.
Elsewhere (SQLite) each table gets a Core executemany, in the order given. Values are converted
the way the columns' SQLAlchemy types bind them, so both paths store the same thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from lineage.db.models import Base, UTCDateTime

Rows = Sequence[Mapping[str, Any]]
Convert = Callable[[Any], Any]


def allocate_ids(session: Session, counts: Mapping[type[Base], int]) -> dict[type[Base], list[int]]:
    """Reserve ``counts[model]`` new ids of each model's ``id`` column, ascending.

    PostgreSQL takes them from the tables' sequences in one statement (never handed out twice).
    SQLite serializes writers for the whole transaction, so the next ids are max(id) + 1 on,
    which is what it would assign itself.
    """
    models = list(counts)
    if not any(counts.values()):
        return {model: [] for model in models}
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        parts = [
            f"SELECT {i} AS k, nextval(pg_get_serial_sequence('{m.__tablename__}', 'id')) AS v "
            "FROM generate_series(1, %s)"
            for i, m in enumerate(models)
        ]
        out: dict[type[Base], list[int]] = {model: [] for model in models}
        rows = connection.exec_driver_sql(
            " UNION ALL ".join(parts), tuple(counts[m] for m in models)
        )
        for k, value in rows:
            out[models[k]].append(int(value))
        return {model: sorted(ids) for model, ids in out.items()}
    top = select(*(select(func.max(m.id)).scalar_subquery() for m in models))  # type: ignore[attr-defined]
    highest = session.execute(top).one()
    return {
        model: list(range((start or 0) + 1, (start or 0) + 1 + counts[model]))
        for model, start in zip(models, highest, strict=True)
    }


def insert_all(session: Session, groups: Sequence[tuple[type[Base], Rows]]) -> None:
    """Insert each group's rows (mappings with the same keys) into its model's table."""
    groups = [(model, rows) for model, rows in groups if rows]
    if not groups:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        for model, rows in groups:
            connection.execute(insert(model.__table__), list(rows))  # type: ignore[arg-type]
        return
    ctes, params = [], []
    for i, (model, rows) in enumerate(groups):
        table = model.__table__
        names = list(rows[0])
        converters = [_converter(table.c[name].type) for name in names]
        columns = ", ".join(f'"{name}"' for name in names)
        ctes.append(
            f'w{i} AS (INSERT INTO "{table.name}" ({columns}) SELECT {columns} '  # type: ignore[attr-defined]
            f'FROM json_populate_recordset(NULL::"{table.name}", %s))'  # type: ignore[attr-defined]
        )
        document = [
            {name: convert(row[name]) for name, convert in zip(names, converters, strict=True)}
            for row in rows
        ]
        params.append(json.dumps(document))
    connection.exec_driver_sql("WITH " + ", ".join(ctes) + " SELECT 1", tuple(params))


def insert_rows(session: Session, model: type[Base], rows: Rows) -> None:
    """Insert rows into one table (see ``insert_all``)."""
    insert_all(session, [(model, rows)])


def update_by_pk(session: Session, model: type[Base], rows: Rows) -> None:
    """Update rows by primary key (each mapping holds the key and the changed columns)."""
    if rows:
        session.execute(update(model), list(rows))


def _converter(kind: TypeEngine[Any]) -> Convert:
    if isinstance(kind, UTCDateTime):
        return lambda value: _iso(kind.process_bind_param(value, _NO_DIALECT))
    if isinstance(kind, JSON):
        return _same  # nested in the document; stored as the text json.dumps gives it
    return _same


def _iso(value: Any) -> Any:
    return None if value is None else value.isoformat()


def _same(value: Any) -> Any:
    return value


_NO_DIALECT: Any = None  # UTCDateTime's conversion does not depend on the dialect
