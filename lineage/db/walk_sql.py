"""Whole traversals in one recursive statement (PostgreSQL): provenance and impact walks.

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

from sqlalchemy import text
from sqlalchemy.orm import Session

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
  WHERE w.depth < :max_depth AND cardinality(w.frontier) > 0
    AND cardinality(w.seen) + cardinality(w.runs) <= :max_nodes
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
        for runs, versions in session.execute(_version_walk(upstream), params)
    ]
