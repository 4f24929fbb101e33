"""A source's sample, read for ``skewless contracts infer``: nullability, ranges, extra columns.

``services.contracts.infer`` builds each source's columns from the Feast definitions; this
module reads the source's sample file (``<source>.parquet``, else ``.csv``) and records what it
shows on them: nulls, the range of numbers, fixed list lengths and their elements' ranges, and
the types of columns no view declares (and of join keys no entity types).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from services.contracts.base import Role
from services.contracts.infer_code import InferredColumn, InferredSource
from services.contracts.types import FieldType
from services.errors import ContractError, InputError, UnreadableInputError


def read_sample(sample_dir: Path, name: str) -> tuple[pa.Table, str] | None:
    """The sample of a source (parquet preferred, then CSV) and its file name, if any."""
    for suffix in (".parquet", ".csv"):
        path = sample_dir / f"{name}{suffix}"
        if not path.is_file():
            continue
        try:
            table = pq.read_table(path) if suffix == ".parquet" else pa_csv.read_csv(path)
        except (pa.ArrowException, OSError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UnreadableInputError(path, f"cannot read the sample: {reason}") from None
        return table, path.name
    return None


def observe_sample(source: InferredSource, sample_dir: Path) -> None:
    """Set nullability and ranges from the source's sample; add its undeclared columns."""
    found = read_sample(sample_dir, source.name)
    if found is None:
        return
    table, source.sample = found
    source.sample_rows = table.num_rows
    known = {c.name: c for c in source.columns}
    for name in table.column_names:
        if name.startswith("__index_level_"):  # a pandas index written by accident
            continue
        column = known.get(name)
        if column is None:
            role: Role = "request" if source.request else "feature"
            ftype = arrow_field_type(source.name, name, table.schema.field(name).type)
            column = source.features[name] = InferredColumn(name, ftype, role, owner=source.owner)
        _observe_column(column, table.column(name))


_ARROW_SCALARS = (
    (pa.types.is_int32, "Int32"),
    (pa.types.is_int16, "Int32"),
    (pa.types.is_int8, "Int32"),
    (pa.types.is_int64, "Int64"),
    (pa.types.is_float32, "Float32"),
    (pa.types.is_float64, "Float64"),
    (pa.types.is_string, "String"),
    (pa.types.is_large_string, "String"),
    (pa.types.is_binary, "Bytes"),
    (pa.types.is_large_binary, "Bytes"),
    (pa.types.is_boolean, "Bool"),
    (pa.types.is_timestamp, "UnixTimestamp"),
)


def arrow_field_type(source: str, name: str, arrow: pa.DataType) -> FieldType:
    """The ``FieldType`` of a sample column no view declares, from its Arrow type."""
    try:
        if (
            pa.types.is_list(arrow)
            or pa.types.is_large_list(arrow)
            or pa.types.is_fixed_size_list(arrow)
        ):
            return FieldType("Array", element=arrow_field_type(source, name, arrow.value_type))
        if pa.types.is_struct(arrow):
            fields = tuple((f.name, arrow_field_type(source, name, f.type)) for f in arrow)
            return FieldType("Struct", fields=fields)
    except ContractError as exc:
        raise InputError(f"source {source!r} sample column {name!r}: {exc}") from None
    for test, type_name in _ARROW_SCALARS:
        if test(arrow):
            return FieldType(type_name)
    raise InputError(
        f"source {source!r} sample column {name!r}: Arrow type {arrow} cannot be stored"
    )


def _bound(value: Any, integer: bool) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value):
        return None
    if integer:
        return int(value) if float(value).is_integer() else None
    return float(value)


def _min_max(
    values: pa.ChunkedArray | pa.Array, integer: bool
) -> tuple[float | None, float | None]:
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        return None, None
    result = pc.min_max(values)
    return _bound(result["min"].as_py(), integer), _bound(result["max"].as_py(), integer)


def _observe_column(column: InferredColumn, data: pa.ChunkedArray) -> None:
    nulls = data.null_count
    if pa.types.is_floating(data.type):
        nulls += pc.sum(pc.is_nan(data)).as_py() or 0
    column.nullable = nulls > 0
    # Feast reads a time without a zone as UTC; the contract says so where the sample has them.
    column.naive_utc = (
        column.type.name == "UnixTimestamp"
        and pa.types.is_timestamp(data.type)
        and data.type.tz is None
    )
    ftype = column.type
    if column.role not in ("feature", "request"):
        return  # a key is an identifier and a timestamp a moment: the sample's range is no rule
    if ftype.is_numeric:
        column.ge, column.le = _min_max(data, ftype.is_integer)
    elif ftype.is_array and ftype.element is not None and pa.types.is_list(data.type):
        lengths = pc.unique(pc.drop_null(pc.list_value_length(data)))
        if len(lengths) == 1:
            column.length = int(lengths[0].as_py())
        if ftype.element.is_numeric:
            flat = pc.list_flatten(data)
            column.element_ge, column.element_le = _min_max(flat, ftype.element.is_integer)
