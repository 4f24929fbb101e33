"""The datasets a data-plane run reads and writes, as OpenLineage input and output datasets.

``DatasetRef`` is what the data plane knows of a dataset (version, schema fields, row count,
assertions, metrics, column lineage, further facets); the functions here turn it into
openlineage-python's dataset objects with the standard facets, and an exception into the
``errorMessage`` run facet. ``lineage.emitter`` sends the events.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.generated import (
    column_lineage_dataset,
    dataset_version_dataset,
    error_message_run,
    output_statistics_output_dataset,
    schema_dataset,
)
from openlineage.client.generated import data_quality_assertions_dataset as dqa
from openlineage.client.generated import data_quality_metrics_dataset as dqm

from lineage.identity import NAMESPACE

_COLUMN_METRICS = ("nullCount", "distinctCount", "sum", "count", "min", "max")


@dataclass(frozen=True)
class ColumnInput:
    """An input column an output column takes its values from (column lineage).

    A ``DIRECT`` transformation; subtype ``IDENTITY``: the output value is the input value.
    """

    field: str
    dataset: str
    input_field: str
    namespace: str = NAMESPACE
    subtype: str = "IDENTITY"


@dataclass(frozen=True)
class DatasetRef:
    """A dataset a run reads or writes, with the facets the data plane knows about it."""

    name: str
    namespace: str = NAMESPACE
    version: str | None = None
    fields: tuple[tuple[str, str, str], ...] = ()
    row_count: int | None = None
    assertions: tuple[tuple[str, bool, str | None], ...] = ()
    metrics: dict[str, float] | None = None
    column_lineage: tuple[ColumnInput, ...] = ()
    facets: Mapping[str, Any] | None = None  # any further dataset facets, by name


def _dataset_facets(ref: DatasetRef) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if ref.version is not None:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(ref.version)
    if ref.fields:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=n, type=t, description=d or None)
                for n, t, d in ref.fields
            ]
        )
    if ref.assertions:
        facets["dataQualityAssertions"] = dqa.DataQualityAssertionsDatasetFacet(
            assertions=[
                dqa.Assertion(assertion=a, success=ok, column=c) for a, ok, c in ref.assertions
            ]
        )
    if ref.metrics is not None:
        facets["dataQualityMetrics"] = _metrics_facet(ref.metrics, ref.row_count)
    if ref.column_lineage:
        facets["columnLineage"] = _column_lineage_facet(ref.column_lineage)
    facets.update(ref.facets or {})
    return facets


def _column_lineage_facet(columns: Sequence[ColumnInput]) -> Any:
    """OpenLineage ``columnLineage``: each output field with the input fields it is taken from."""
    inputs: dict[str, list[Any]] = {}
    for c in columns:
        inputs.setdefault(c.field, []).append(
            column_lineage_dataset.InputField(
                namespace=c.namespace,
                name=c.dataset,
                field=c.input_field,
                transformations=[
                    column_lineage_dataset.Transformation(type="DIRECT", subtype=c.subtype)
                ],
            )
        )
    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            name: column_lineage_dataset.Fields(inputFields=ins) for name, ins in inputs.items()
        }
    )


def _metrics_facet(metrics: Mapping[str, float], row_count: int | None) -> Any:
    """``rowCount`` plus ``<column>.<metric>`` keys (nullCount, distinctCount, sum ...)."""
    columns: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        column, _, metric = key.rpartition(".")
        if column and metric in _COLUMN_METRICS:
            columns.setdefault(column, {})[metric] = value
    rows = metrics.get("rowCount", row_count)
    return dqm.DataQualityMetricsDatasetFacet(
        columnMetrics={c: dqm.ColumnMetrics(**m) for c, m in columns.items()},
        rowCount=None if rows is None else int(rows),
    )


def input_dataset(ref: DatasetRef) -> InputDataset:
    """``ref`` as a run's input dataset."""
    return InputDataset(namespace=ref.namespace, name=ref.name, facets=_dataset_facets(ref))


def output_dataset(ref: DatasetRef) -> OutputDataset:
    """``ref`` as a run's output dataset (with its row count as output statistics)."""
    out_facets: dict[str, Any] = {}
    if ref.row_count is not None:
        out_facets["outputStatistics"] = (
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=ref.row_count
            )
        )
    return OutputDataset(
        namespace=ref.namespace, name=ref.name, facets=_dataset_facets(ref), outputFacets=out_facets
    )


def error_facet(error: BaseException) -> Any:
    """A failed run's ``errorMessage`` facet, with the stack trace."""
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return error_message_run.ErrorMessageRunFacet(
        message=f"{type(error).__name__}: {error}", programmingLanguage="python", stackTrace=trace
    )
