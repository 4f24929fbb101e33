"""Whole traversals in one recursive statement (PostgreSQL): the graph query's and the walks'.

A bounded breadth-first traversal costs one round trip per level when each level is its own
query. Here the levels are computed by one ``WITH RECURSIVE`` statement: the frontier and the
nodes seen so far ride along as arrays, so each level expands only nodes new to the traversal,
and the recursion stops where the caller's loop would (depth, empty frontier, node budget). Each
row is one level with exactly what the per-level query returns for it; callers replay the rows
through their own loop and fall back to the per-level query for any level not returned. SQLite
has no arrays: there the answer is empty.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from typing import Any

from sqlalchemy import ARRAY, BigInteger, any_, literal_column, text, union
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from lineage.db import graph_sql, raw
from lineage.db.models import RunInput, RunOutput
from lineage.db.repositories import is_postgresql

_VERSION_WALK = """
WITH RECURSIVE walk(depth, frontier, seen, runs, step_runs, step_versions) AS (
  SELECT 0, CAST(:start AS BIGINT[]), CAST(:start AS BIGINT[]), CAST(ARRAY[] AS TEXT[]),
         CAST(ARRAY[] AS TEXT[]), CAST(ARRAY[] AS BIGINT[])
  UNION ALL
  SELECT w.depth + 1, s.fresh, w.seen || s.fresh,
         ARRAY(SELECT unnest(w.runs) UNION SELECT unnest(s.runs)), s.runs, s.versions
  FROM walk w
  CROSS JOIN LATERAL (
    SELECT step.runs, step.versions,
           ARRAY(SELECT unnest(step.versions) EXCEPT SELECT unnest(w.seen)) AS fresh
    FROM (
      SELECT ARRAY(SELECT DISTINCT n.run_id FROM {near} n
                   WHERE n.dataset_version_id = ANY(w.frontier)) AS runs,
             ARRAY(SELECT DISTINCT f.dataset_version_id FROM {near} n
                   JOIN {far} f ON f.run_id = n.run_id
                   WHERE n.dataset_version_id = ANY(w.frontier)) AS versions
      OFFSET 0
    ) step
  ) s
  WHERE w.depth < :max_depth AND coalesce(array_length(w.frontier, 1), 0) > 0
    AND coalesce(array_length(w.seen, 1), 0) + coalesce(array_length(w.runs, 1), 0) <= :max_nodes
)
SELECT step_runs, step_versions FROM walk WHERE depth > 0 ORDER BY depth
"""


@cache
def _version_walk(upstream: bool) -> Any:
    near, far = (RunOutput, RunInput) if upstream else (RunInput, RunOutput)
    return text(_VERSION_WALK.format(near=near.__tablename__, far=far.__tablename__))


def version_levels(
    session: Session, start: Collection[int], *, upstream: bool, max_depth: int, max_nodes: int
) -> list[tuple[set[str], set[int]]]:
    """Every level of a provenance (``upstream``) or impact walk from the versions ``start``.

    Level ``k`` is what ``repositories.version_step`` returns for the versions first reached at
    level ``k - 1``; the levels end where ``lineage.provenance`` stops walking: after
    ``max_depth`` levels, at an empty frontier, or after the level that passed ``max_nodes``.
    """
    if not start or not is_postgresql(session):
        return []
    params = {"start": list(start), "max_depth": max_depth, "max_nodes": max_nodes}
    return [
        (set(runs), set(versions))
        for runs, versions in raw.execute(session, _version_walk(upstream), params)
    ]


# Each level's edges (a, b, tag) come from ``graph_sql``'s level UNION with the frontier read
# from the working row; the next frontier is their ends not seen yet, by kind (see
# ``graph_sql.current_edge``: a is a dataset except in a parent edge, b a job or a model).
# ``OFFSET 0`` keeps PostgreSQL from pulling the next frontier's subquery up into the outer
# SELECT: pulled up, each of its arrays is computed once per use (twice), ~20 % of the walk.
_GRAPH_WALK = """
WITH RECURSIVE walk(depth, datasets, jobs, models, seen_d, seen_j, seen_m, a, b, t) AS (
  SELECT 0, CAST(:datasets AS BIGINT[]), CAST(:jobs AS BIGINT[]), CAST(:models AS BIGINT[]),
         CAST(:datasets AS BIGINT[]), CAST(:jobs AS BIGINT[]), CAST(:models AS BIGINT[]),
         CAST(ARRAY[] AS BIGINT[]), CAST(ARRAY[] AS BIGINT[]), CAST(ARRAY[] AS INT[])
  UNION ALL
  SELECT w.depth + 1, n.datasets, n.jobs, n.models,
         w.seen_d || n.datasets, w.seen_j || n.jobs, w.seen_m || n.models, e.a, e.b, e.t
  FROM walk w
  CROSS JOIN LATERAL (
    SELECT COALESCE(array_agg(x.a), '{{}}') AS a, COALESCE(array_agg(x.b), '{{}}') AS b,
           COALESCE(array_agg(x.t), '{{}}') AS t
    FROM ({level}) AS x(a, b, t)
  ) e
  CROSS JOIN LATERAL (
    SELECT
      ARRAY(SELECT u.a FROM unnest(e.a, e.t) u(a, t) WHERE u.t <> {parent}
            EXCEPT SELECT unnest(w.seen_d)) AS datasets,
      ARRAY(SELECT u.b FROM unnest(e.b, e.t) u(b, t) WHERE u.t IN ({read}, {wrote})
            UNION SELECT u.a FROM unnest(e.a, e.b, e.t) u(a, b, t)
                  WHERE u.t = {parent} AND u.a <> u.b
            UNION SELECT u.b FROM unnest(e.a, e.b, e.t) u(a, b, t)
                  WHERE u.t = {parent} AND u.a <> u.b
            EXCEPT SELECT unnest(w.seen_j)) AS jobs,
      ARRAY(SELECT u.b FROM unnest(e.b, e.t) u(b, t) WHERE u.t = {trained}
            EXCEPT SELECT unnest(w.seen_m)) AS models
    OFFSET 0
  ) n
  WHERE w.depth < :depth
    AND coalesce(array_length(w.datasets, 1), 0) + coalesce(array_length(w.jobs, 1), 0)
        + coalesce(array_length(w.models, 1), 0) > 0
    AND coalesce(array_length(w.seen_d, 1), 0) + coalesce(array_length(w.seen_j, 1), 0)
        + coalesce(array_length(w.seen_m, 1), 0) <= :max_nodes
)
SELECT a, b, t FROM walk WHERE depth > 0 ORDER BY depth
"""


def _in_working_row(column: Any, name: str) -> Any:
    return column == any_(literal_column(f"w.{name}", ARRAY(BigInteger)))


@cache
def _graph_walk() -> Any:
    level = union(*graph_sql.current_parts(_in_working_row, True, True, True, None))
    # The only literals are the tags and the job edges' directions: constants of our own.
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    sql = level.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    tags = {"read": graph_sql.READ, "wrote": graph_sql.WROTE}
    tags |= {"trained": graph_sql.TRAINED, "parent": graph_sql.PARENT}
    return text(_GRAPH_WALK.format(level=sql, **tags))


def current_levels(
    session: Session,
    start: dict[str, list[Any]],
    depth: int,
    max_nodes: int,
) -> list[set[graph_sql.Edge]]:
    """Every level's edges of a current-lineage traversal (no ``asOf``) from ``start``.

    ``start`` holds the start nodes' keys by kind (``dataset``, ``job``, ``model``). Level ``k``
    is what ``graph_sql.current_edges`` returns for the nodes first reached at level ``k - 1``;
    the levels end after ``depth`` levels, at an empty frontier, or after the first level whose
    new nodes took the traversal past ``max_nodes`` (there the caller's budget cut begins).
    """
    if not is_postgresql(session):
        return []
    params = {
        "datasets": start["dataset"],
        "jobs": start["job"],
        "models": start["model"],
        "depth": depth,
        "max_nodes": max_nodes,
    }
    levels = []
    for a, b, tags in raw.execute(session, _graph_walk(), params):
        found = (graph_sql.current_edge(x, y, tag) for x, y, tag in zip(a, b, tags, strict=True))
        levels.append({edge for edge in found if edge is not None})
    return levels
