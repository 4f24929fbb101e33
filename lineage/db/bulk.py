"""Writing a batch's new, changed and removed rows to several tables with one statement.

The intake writer and the audit log write whole batches of rows whose keys they already know.
Ids of new rows are reserved first (``allocate_ids``, or by the batch's read on PostgreSQL), so
rows that reference each other can be built in memory and written together. On PostgreSQL,
``write_all`` sends every table's rows as one JSON document each, expanded by
``json_populate_recordset`` in data-modifying CTEs (inserts; updates and deletes by primary
key): one statement and one round trip for the whole batch, whatever it holds, with a text
PostgreSQL prepares once per shape. Foreign keys are checked at the end of that statement.
Elsewhere (SQLite) each table gets a Core executemany. Values are converted the way the
columns' SQLAlchemy types bind them, so both paths store the same thing; a ``RawJSON`` value
(JSON text already serialized, such as an event's canonical form) is spliced into the document
as it is instead of being parsed and serialized again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import and_, bindparam, delete, func, insert, inspect, select, update
from sqlalchemy.orm import Session

from lineage.db import raw
from lineage.db.models import Base

Rows = Sequence[Mapping[str, Any]]
Groups = Sequence[tuple[type[Base], Rows]]


class RawJSON(str):
    """JSON text to store in a JSON column as it is (it was serialized once already)."""

    __slots__ = ()


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
        rows = raw.execute_text(
            session, " UNION ALL ".join(parts), tuple(counts[m] for m in models)
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


def write_all(
    session: Session,
    inserts: Groups,
    updates: Groups = (),
    deletes: Groups = (),
    *,
    ignore: Groups = (),
) -> None:
    """Insert, update (by primary key) and delete (by primary key) each group's rows.

    Rows of one group are mappings with the same keys; an update row holds the primary key and
    the columns to change, a delete row the primary key. No row is touched twice by one call
    (an update or delete never addresses a row inserted by the same call). ``ignore`` rows are
    inserted after ``inserts`` unless a row with their primary key is stored already.
    """
    inserts = [(model, rows) for model, rows in inserts if rows]
    updates = [(model, rows) for model, rows in updates if rows]
    deletes = [(model, rows) for model, rows in deletes if rows]
    ignore = [(model, rows) for model, rows in ignore if rows]
    if not (inserts or updates or deletes or ignore):
        return
    if session.connection().dialect.name == "postgresql":
        _write_postgresql(session, inserts, updates, deletes, ignore)
        return
    connection = session.connection()
    for model, rows in deletes:
        table = model.__table__
        keys = _primary_key(model)
        match = and_(*(table.c[name] == bindparam(f"key_{name}") for name in keys))
        connection.execute(
            delete(table).where(match),  # type: ignore[arg-type]
            [{f"key_{name}": row[name] for name in keys} for row in rows],
        )
    for model, rows in inserts:
        connection.execute(insert(model.__table__), [_generic(row) for row in rows])  # type: ignore[arg-type]
    for model, rows in ignore:
        stmt = insert(model.__table__).prefix_with("OR IGNORE", dialect="sqlite")  # type: ignore[arg-type]
        connection.execute(stmt, [_generic(row) for row in rows])
    for model, rows in updates:
        session.execute(update(model), [_generic(row) for row in rows])


def _primary_key(model: type[Base]) -> list[str]:
    return [column.name for column in inspect(model).primary_key]


def _write_postgresql(
    session: Session, inserts: Groups, updates: Groups, deletes: Groups, ignore: Groups = ()
) -> None:
    ctes, params = [], []
    for model, rows in deletes:
        table = model.__tablename__
        match = " AND ".join(f't."{name}" = v."{name}"' for name in _primary_key(model))
        ctes.append(
            f'DELETE FROM "{table}" AS t '
            f'USING json_populate_recordset(NULL::"{table}", %s) AS v WHERE {match}'
        )
        params.append(_document(rows))
    for model, rows in inserts:
        table = model.__tablename__
        columns = ", ".join(f'"{name}"' for name in rows[0])
        ctes.append(
            f'INSERT INTO "{table}" ({columns}) SELECT {columns} '
            f'FROM json_populate_recordset(NULL::"{table}", %s)'
        )
        params.append(_document(rows))
    for model, rows in ignore:
        table = model.__tablename__
        columns = ", ".join(f'"{name}"' for name in rows[0])
        ctes.append(
            f'INSERT INTO "{table}" ({columns}) SELECT {columns} '
            f'FROM json_populate_recordset(NULL::"{table}", %s) ON CONFLICT DO NOTHING'
        )
        params.append(_document(rows))
    for model, rows in updates:
        table = model.__tablename__
        keys = _primary_key(model)
        changed = ", ".join(f'"{name}" = v."{name}"' for name in rows[0] if name not in keys)
        match = " AND ".join(f't."{name}" = v."{name}"' for name in keys)
        ctes.append(
            f'UPDATE "{table}" AS t SET {changed} '
            f'FROM json_populate_recordset(NULL::"{table}", %s) AS v WHERE {match}'
        )
        params.append(_document(rows))
    text = "WITH " + ", ".join(f"w{i} AS ({cte})" for i, cte in enumerate(ctes)) + " SELECT 1"
    raw.execute_text(session, text, params)


def _document(rows: Rows) -> str:
    """The rows as one JSON array (timestamps as ISO text, ``RawJSON`` spliced in as it is).

    orjson writes it, several times faster than the standard library; a value it cannot write
    exactly (an integer beyond 64 bits, which a facet may hold) falls back to ``json``. Every
    timestamp here is timezone-aware (event times are validated so, the others are taken in UTC
    or read back from the database), which is what lets orjson write them directly.
    """
    spliced = [name for name, item in rows[0].items() if isinstance(item, RawJSON)]
    document = rows
    if spliced:
        fragment = orjson.Fragment  # takes a str proper, not a subclass such as RawJSON
        document = [{**row, **{n: fragment(str(row[n])) for n in spliced}} for row in rows]
    try:
        return orjson.dumps(document).decode()
    except TypeError:
        return _document_json(rows, spliced)


def _document_json(rows: Rows, spliced: list[str]) -> str:
    times: dict[datetime, str] = {}  # a batch repeats its timestamps: convert each once

    def value(item: Any) -> Any:
        if isinstance(item, datetime):
            found = times.get(item)
            if found is None:
                found = times[item] = _utc(item).isoformat()
            return found
        raise TypeError(f"{type(item).__name__} cannot be written to the lineage database")

    if not spliced:
        return json.dumps(rows, default=value, separators=(",", ":"))
    parts = []
    for row in rows:
        plain = {name: item for name, item in row.items() if name not in spliced}
        extra = "".join(f",{json.dumps(name)}:{row[name]}" for name in spliced)
        text = json.dumps(plain, default=value, separators=(",", ":"))
        parts.append(text[:-1] + extra + "}" if plain else "{" + extra[1:] + "}")
    return "[" + ",".join(parts) + "]"


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:  # as UTCDateTime refuses it on the generic path
        msg = "naive datetimes are not accepted; pass an aware datetime"
        raise ValueError(msg)
    return value.astimezone(UTC)


def _generic(row: Mapping[str, Any]) -> Mapping[str, Any]:
    if not any(isinstance(value, RawJSON) for value in row.values()):
        return row
    return {k: json.loads(v) if isinstance(v, RawJSON) else v for k, v in row.items()}
