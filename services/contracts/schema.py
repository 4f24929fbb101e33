"""Everything generated from a contract.

Column specs, Feast fields, the Arrow schema, pandas dtypes and the Pandera
validation schema all come from here.

An unmapped dtype raises ``ContractError`` at import of the feature repo, so a
contract can never silently disagree with what Feast stores.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

import pandera.pandas as pa
import pyarrow as pa_arrow
from feast import Field
from feast.types import Bool, FeastType, Float64, Int64, String, UnixTimestamp

from services.contracts.base import (
    CREATED_TIMESTAMP,
    EVENT_TIMESTAMP,
    ColumnSpec,
    Kind,
    SourceContract,
    SourceSpec,
)
from services.errors import ContractError

_KIND_BY_DTYPE: dict[str, Kind] = {
    "int64": "int",
    "Int64": "int",
    "float64": "float",
    "str": "string",
    "string": "string",
    "bool": "bool",
    "boolean": "bool",
    "datetime64[ns, UTC]": "timestamp",
}
_FEAST_TYPE: dict[Kind, FeastType] = {
    "int": Int64,
    "float": Float64,
    "string": String,
    "bool": Bool,
    "timestamp": UnixTimestamp,
}
_ARROW_TYPE: dict[Kind, pa_arrow.DataType] = {
    "int": pa_arrow.int64(),
    "float": pa_arrow.float64(),
    "string": pa_arrow.string(),
    "bool": pa_arrow.bool_(),
    "timestamp": pa_arrow.timestamp("us", tz="UTC"),
}


T = TypeVar("T")


def _per_contract(fn: Callable[[type[SourceContract]], T]) -> Callable[[type[SourceContract]], T]:
    """Memoise a function of a contract class (contracts are immutable class objects)."""
    memo: dict[type[SourceContract], T] = {}

    @wraps(fn)
    def wrapper(contract: type[SourceContract]) -> T:
        if contract not in memo:
            memo[contract] = fn(contract)
        return memo[contract]

    return wrapper


def _kind_of(column: pa.Column) -> Kind:
    dtype = str(column.dtype)
    try:
        return _KIND_BY_DTYPE[dtype]
    except KeyError:
        raise ContractError(f"column {column.name!r}: dtype {dtype} has no Feast mapping") from None


def _checks(column: pa.Column) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for check in column.checks:
        stats = check.statistics or {}
        if check.name in ("greater_than_or_equal_to",):
            out["ge"] = stats.get("min_value")
        elif check.name in ("less_than_or_equal_to",):
            out["le"] = stats.get("max_value")
        elif check.name == "in_range":
            out["ge"], out["le"] = stats.get("min_value"), stats.get("max_value")
        elif check.name == "isin":
            out["allowed"] = tuple(stats.get("allowed_values", ()))
    return out


@_per_contract
def source_spec(contract: type[SourceContract]) -> SourceSpec:
    """Source-level facts of a contract."""
    config = contract.Config
    meta: dict[str, Any] = dict(getattr(config, "metadata", None) or {})
    name = cast(str, config.name)  # type: ignore[attr-defined]
    entity = meta.get("entity")
    join_key = None
    if entity is not None:
        join_key = next(c.name for c in column_specs(contract) if c.role == "entity")
    cadence = timedelta(hours=float(meta.get("cadence_hours", 24)))
    return SourceSpec(
        name=name,
        description=str(getattr(config, "description", "") or ""),
        owner=str(meta.get("owner", "")),
        entity=entity,
        join_key=join_key,
        ttl=timedelta(hours=float(meta.get("ttl_hours", 0))),
        cadence=cadence,
        default_policy=meta.get("default_policy", "quarantine"),
        freshness_slo=timedelta(hours=float(meta.get("freshness_slo_hours", 0))) or 2 * cadence,
    )


@_per_contract
def column_specs(contract: type[SourceContract]) -> tuple[ColumnSpec, ...]:
    """One ``ColumnSpec`` per contract column, in contract order."""
    schema = contract.to_schema()
    source_meta: dict[str, Any] = dict(getattr(contract.Config, "metadata", None) or {})
    specs = []
    for name, column in schema.columns.items():
        meta: dict[str, Any] = dict(column.metadata or {})
        specs.append(
            ColumnSpec(
                name=str(name),
                kind=_kind_of(column),
                nullable=bool(column.nullable),
                description=str(column.description or ""),
                owner=str(meta.get("owner", source_meta.get("owner", ""))),
                role=meta.get("role", "feature"),
                pii=bool(meta.get("pii", False)),
                classification=meta.get("classification"),
                drift_threshold=meta.get("drift_threshold"),
                **_checks(column),
            )
        )
    return tuple(specs)


def feature_specs(contract: type[SourceContract]) -> tuple[ColumnSpec, ...]:
    return tuple(c for c in column_specs(contract) if c.role in ("feature", "request"))


def key_columns(contract: type[SourceContract]) -> list[str]:
    """The uniqueness key: entity keys, event and created timestamps."""
    return [c.name for c in column_specs(contract) if c.role in ("entity", "timestamp")]


def feast_fields(contract: type[SourceContract]) -> list[Field]:
    """Feast ``Field``s of the contract's features, with owner/PII tags."""
    fields = []
    for spec in feature_specs(contract):
        tags = {"owner": spec.owner, "contract": source_spec(contract).name}
        if spec.pii:
            tags["pii"] = "true"
        if spec.classification:
            tags["classification"] = spec.classification
        fields.append(
            Field(
                name=spec.name,
                dtype=_FEAST_TYPE[spec.kind],
                description=spec.description,
                tags=tags,
            )
        )
    return fields


def odfv_fields_and_tags(
    contract: type[SourceContract],
) -> tuple[list[Field], dict[str, str]]:
    """Bare Feast fields plus per-field docs as view tags, for on-demand views.

    Feast compares an on-demand view's declared fields with the ones it infers by
    running the UDF, including descriptions and tags, so documentation has to ride
    on the view's tags (``field.<name>.description`` / ``.owner`` / ``.pii``).
    """
    fields, tags = [], {}
    for spec in feature_specs(contract):
        fields.append(Field(name=spec.name, dtype=_FEAST_TYPE[spec.kind]))
        tags[f"field.{spec.name}.description"] = spec.description
        tags[f"field.{spec.name}.owner"] = spec.owner
        if spec.pii:
            tags[f"field.{spec.name}.pii"] = "true"
        if spec.classification:
            tags[f"field.{spec.name}.classification"] = spec.classification
    return fields, tags


def feast_type(kind: Kind) -> FeastType:
    return _FEAST_TYPE[kind]


def arrow_schema(contract: type[SourceContract]) -> pa_arrow.Schema:
    """The Arrow schema every dataset version of this source is written with."""
    return pa_arrow.schema(
        [
            pa_arrow.field(c.name, _ARROW_TYPE[c.kind], nullable=c.nullable or c.role == "feature")
            for c in column_specs(contract)
        ]
    )


def pandas_dtype(spec: ColumnSpec) -> str:
    """The pandas dtype a column is held in once it has passed the contract."""
    return {
        "int": "Int64" if spec.nullable else "int64",
        "float": "float64",
        "string": "object",
        "bool": "boolean" if spec.nullable else "bool",
        "timestamp": "datetime64[ns, UTC]",
    }[spec.kind]


def output_dtype(spec: ColumnSpec) -> str:
    """The pandas dtype of a feature in a retrieved frame, where any value may be null."""
    return {
        "int": "Int64",
        "float": "float64",
        "string": "object",
        "bool": "boolean",
        "timestamp": "datetime64[ns, UTC]",
    }[spec.kind]


@_per_contract
def validation_schema(contract: type[SourceContract]) -> pa.DataFrameSchema:
    """The Pandera schema that gates every write of this source.

    Built from the model's schema plus the row key uniqueness with
    ``report_duplicates="exclude_first"``: only later copies of a key fail, so the
    clean first copy is kept (``DataFrameModel`` configs cannot express that).
    """
    base = contract.to_schema()
    keys = key_columns(contract)
    return pa.DataFrameSchema(
        columns=base.columns,
        checks=base.checks,
        strict=True,
        coerce=False,
        unique=keys if keys else None,
        report_duplicates="exclude_first",
        name=base.name,
    )


def schema_fingerprint(contract: type[SourceContract]) -> str:
    """A short hash of the contract's columns, stamped on Feast objects and versions."""
    payload = [
        (c.name, c.kind, c.nullable, c.role, c.pii, c.classification)
        for c in column_specs(contract)
    ]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


__all__ = [
    "CREATED_TIMESTAMP",
    "EVENT_TIMESTAMP",
    "arrow_schema",
    "column_specs",
    "feast_fields",
    "feast_type",
    "feature_specs",
    "key_columns",
    "odfv_fields_and_tags",
    "output_dtype",
    "pandas_dtype",
    "schema_fingerprint",
    "source_spec",
    "validation_schema",
]
