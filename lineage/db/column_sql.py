"""SQL of column lineage: the edges each dataset's newest version declaring them says.

Read by the graph answer (``lineage.queries``, by dataset ids) and the Marquez column-lineage
route (``lineage.marquez_columns``, by names). Callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from lineage.db.marquez_sql import newest_first
from lineage.db.models import ColumnLineage, Dataset, DatasetVersion
from lineage.db.repositories import any_of, is_postgresql

ColumnEdge = tuple[str, str, str, str, str, str, str | None]
"""(output namespace, output dataset, output field, input namespace, input dataset, input field,
transformation)."""


def _newest_declaring(*where: Any) -> Any:
    """Each dataset's newest version (by creation, then id) that declares column lineage.

    ``where`` narrows the datasets considered (it applies before the ranking).
    """
    ranked = (
        select(ColumnLineage.dataset_version_id.label("dv_id"), newest_first(func.dense_rank()))
        .join(DatasetVersion, DatasetVersion.id == ColumnLineage.dataset_version_id)
        .where(*where)
        .subquery()
    )
    return select(ranked.c.dv_id).where(ranked.c.rank == 1)


def _column_edges(newest: Any, *where: Any) -> Any:
    """Select the edges of the versions in ``newest`` that match ``where``, sorted."""
    return (
        select(*_edge_order(), ColumnLineage.transformation)  # a ColumnEdge, in its order
        .join(DatasetVersion, DatasetVersion.id == ColumnLineage.dataset_version_id)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(ColumnLineage.dataset_version_id.in_(newest), *where)
        .order_by(*_edge_order())
    )


def current_column_edges(
    session: Session,
    *,
    outputs: Collection[tuple[str, str]] = (),
    inputs: Collection[tuple[str, str]] = (),
) -> list[ColumnEdge]:
    """Column lineage as each output dataset's newest version declaring it says.

    Args:
        session: An open session.
        outputs: Edges into these (namespace, dataset) pairs.
        inputs: Edges out of these (namespace, dataset) pairs.

    Returns:
        The edges, sorted.

    """
    if not outputs and not inputs:
        return []
    wanted = [and_(Dataset.namespace == ns, Dataset.name == name) for ns, name in outputs]
    wanted += [
        and_(ColumnLineage.input_namespace == ns, ColumnLineage.input_name == name)
        for ns, name in inputs
    ]
    stmt = _column_edges(_newest_declaring(), or_(*wanted))
    return [tuple(r) for r in session.execute(stmt)]


@cache
def _edges_into_ids(postgresql: bool) -> Any:
    newest = _newest_declaring(any_of(DatasetVersion.dataset_id, "datasets", postgresql))
    return _column_edges(newest)


def column_edges_into(session: Session, dataset_ids: Collection[int]) -> list[ColumnEdge]:
    """``current_column_edges`` into the datasets with these ids, sorted.

    The graph query knows its datasets by id: one statement compiled once, whatever their number
    (an ``OR`` over (namespace, name) pairs is rebuilt and recompiled for every answer).
    """
    if not dataset_ids:
        return []
    stmt = _edges_into_ids(is_postgresql(session))
    return [tuple(r) for r in session.execute(stmt, {"datasets": list(dataset_ids)})]


def _edge_order() -> tuple[Any, ...]:
    return (
        Dataset.namespace,
        Dataset.name,
        ColumnLineage.output_field,
        ColumnLineage.input_namespace,
        ColumnLineage.input_name,
        ColumnLineage.input_field,
    )
