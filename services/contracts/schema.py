"""Everything generated from a contract.

Column specs, Feast fields, the Arrow schema, pandas dtypes and the Pandera
validation schema all come from here, through each column's ``FieldType``.

An unmapped dtype, or an ``object`` column without a ``type`` in its metadata, raises
``ContractError`` naming the contract and column, so a contract can never silently
disagree with what Feast stores.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

import pandera.pandas as pa
import pyarrow as pa_arrow
from feast import Field

from services.contracts.base import (
    CREATED_TIMESTAMP,
    EVENT_TIMESTAMP,
    ColumnSpec,
    Role,
    SourceContract,
    SourceSpec,
)
from services.contracts.checks import type_checks
from services.contracts.specs import output_dtype
from services.contracts.types import FieldType, from_pandera_dtype, parse_type
from services.errors import ContractError

T = TypeVar("T")
_ROLES = ("entity", "event_timestamp", "created_timestamp", "feature", "request")


def _per_contract(fn: Callable[[type[SourceContract]], T]) -> Callable[[type[SourceContract]], T]:
    """Memoise a function of a contract class (contracts are immutable class objects)."""
    memo: dict[type[SourceContract], T] = {}

    @wraps(fn)
    def wrapper(contract: type[SourceContract]) -> T:
        if contract not in memo:
            memo[contract] = fn(contract)
        return memo[contract]

    return wrapper


def contract_name(contract: type[SourceContract]) -> str:
    name = getattr(contract.Config, "name", None)
    if not name:
        raise ContractError(
            f"contract {contract.__name__}: Config.name (the source's name) is missing"
        )
    return str(name)


def _type_of(contract: str, column: pa.Column, meta: dict[str, Any]) -> FieldType:
    where = f"contract {contract!r} column {column.name!r}"
    dtype = str(column.dtype)
    declared = meta.get("type")
    try:
        if declared is not None:
            ftype = parse_type(str(declared), length=meta.get("length"))
            inferred = from_pandera_dtype(dtype)
            if dtype != "object" and inferred != ftype:
                raise ContractError(f"dtype {dtype} disagrees with its declared type {declared}")
            return ftype
        ftype_or_none = from_pandera_dtype(dtype)
    except ContractError as exc:
        raise ContractError(f"{where}: {exc}") from None
    if ftype_or_none is None:
        raise ContractError(
            f"{where}: dtype {dtype} has no Feast mapping; declare it, e.g. "
            "metadata={'type': 'Array(Float32)'}"
        )
    return ftype_or_none


def _naive_utc(contract: str, name: str, ftype: FieldType, meta: dict[str, Any]) -> bool:
    """Whether the column reads times without a zone as UTC (metadata ``naive="UTC"``)."""
    naive = meta.get("naive")
    if naive is None:
        return False
    if naive != "UTC" or ftype.name != "UnixTimestamp":
        raise ContractError(
            f"contract {contract!r} column {name!r}: metadata naive={naive!r} is allowed only "
            "as 'UTC', on a timestamp column"
        )
    return True


def _role_of(contract: str, name: str, meta: dict[str, Any]) -> Role:
    role = meta.get("role", "feature")
    if role == "timestamp":  # the first contracts named both timestamps this way
        role = "created_timestamp" if name == CREATED_TIMESTAMP else "event_timestamp"
    if role not in _ROLES:
        raise ContractError(f"contract {contract!r} column {name!r}: unknown role {role!r}")
    return cast(Role, role)


def _checks(column: pa.Column) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for check in column.checks:
        stats = check.statistics or {}
        if check.name in ("greater_than_or_equal_to", "greater_than"):
            out["ge"] = stats.get("min_value")
        elif check.name in ("less_than_or_equal_to", "less_than"):
            out["le"] = stats.get("max_value")
        elif check.name == "in_range":
            out["ge"], out["le"] = stats.get("min_value"), stats.get("max_value")
        elif check.name == "isin":
            out["allowed"] = tuple(stats.get("allowed_values", ()))
    return out


@_per_contract
def column_specs(contract: type[SourceContract]) -> tuple[ColumnSpec, ...]:
    """One ``ColumnSpec`` per contract column, in contract order."""
    name = contract_name(contract)
    schema = contract.to_schema()
    source_meta: dict[str, Any] = dict(getattr(contract.Config, "metadata", None) or {})
    specs = []
    for col_name, column in schema.columns.items():
        meta: dict[str, Any] = dict(column.metadata or {})
        ftype = _type_of(name, column, meta)
        specs.append(
            ColumnSpec(
                name=str(col_name),
                type=ftype,
                nullable=bool(column.nullable),
                description=str(column.description or ""),
                owner=str(meta.get("owner", source_meta.get("owner", ""))),
                role=_role_of(name, str(col_name), meta),
                pii=bool(meta.get("pii", False)),
                classification=meta.get("classification"),
                drift_threshold=meta.get("drift_threshold"),
                element_ge=meta.get("element_ge"),
                element_le=meta.get("element_le"),
                naive_utc=_naive_utc(name, str(col_name), ftype, meta),
                **_checks(column),
            )
        )
    return tuple(specs)


@_per_contract
def source_spec(contract: type[SourceContract]) -> SourceSpec:
    """Source-level facts of a contract."""
    config = contract.Config
    meta: dict[str, Any] = dict(getattr(config, "metadata", None) or {})
    name = contract_name(contract)
    specs = column_specs(contract)
    events = [c.name for c in specs if c.role == "event_timestamp"]
    created = [c.name for c in specs if c.role == "created_timestamp"]
    if len(events) > 1 or len(created) > 1:
        raise ContractError(f"contract {name!r}: more than one event or created timestamp column")
    if not events and meta.get("request") is not True and any(c.role == "entity" for c in specs):
        raise ContractError(f"contract {name!r}: no event timestamp column (role event_timestamp)")
    cadence = timedelta(hours=float(meta.get("cadence_hours", 24)))
    return SourceSpec(
        name=name,
        description=str(getattr(config, "description", "") or ""),
        owner=str(meta.get("owner", "")),
        keys=tuple(c.name for c in specs if c.role == "entity"),
        event_timestamp=events[0] if events else EVENT_TIMESTAMP,
        created_timestamp=created[0] if created else None,
        ttl=timedelta(hours=float(meta.get("ttl_hours", 0))),
        cadence=cadence,
        default_policy=meta.get("default_policy", "quarantine"),
        freshness_slo=timedelta(hours=float(meta.get("freshness_slo_hours", 0))) or 2 * cadence,
    )


def feature_specs(contract: type[SourceContract]) -> tuple[ColumnSpec, ...]:
    return tuple(c for c in column_specs(contract) if c.role in ("feature", "request"))


def key_columns(contract: type[SourceContract]) -> list[str]:
    """The uniqueness key: entity keys, event and created timestamps."""
    return [
        c.name
        for c in column_specs(contract)
        if c.role in ("entity", "event_timestamp", "created_timestamp")
    ]


def field_tags(contract: type[SourceContract], spec: ColumnSpec) -> dict[str, str]:
    tags = {"owner": spec.owner, "contract": contract_name(contract)}
    if spec.pii:
        tags["pii"] = "true"
    if spec.classification:
        tags["classification"] = spec.classification
    return tags


def feast_fields(contract: type[SourceContract]) -> list[Field]:
    """Feast ``Field``s of the contract's features, with owner/PII tags."""
    return [
        Field(
            name=spec.name,
            dtype=spec.type.feast(),
            description=spec.description,
            tags=field_tags(contract, spec),
        )
        for spec in feature_specs(contract)
    ]


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
        fields.append(Field(name=spec.name, dtype=spec.type.feast()))
        tags[f"field.{spec.name}.description"] = spec.description
        for key, value in field_tags(contract, spec).items():
            if key != "contract":
                tags[f"field.{spec.name}.{key}"] = value
    return fields, tags


def arrow_schema(contract: type[SourceContract]) -> pa_arrow.Schema:
    """The Arrow schema every dataset version of this source is written with."""
    return pa_arrow.schema(
        [
            pa_arrow.field(c.name, c.type.arrow(), nullable=c.nullable or c.role == "feature")
            for c in column_specs(contract)
        ]
    )


def pandas_dtype(spec: ColumnSpec) -> str:
    """The pandas dtype a column is held in once it has passed the contract."""
    return spec.type.pandas_dtype(spec.nullable)


@_per_contract
def validation_schema(contract: type[SourceContract]) -> pa.DataFrameSchema:
    """The Pandera schema that gates every write of this source.

    Built from the model's schema, plus the checks each column's type implies (array
    length and element ranges, struct fields), plus the row key uniqueness with
    ``report_duplicates="exclude_first"``: only later copies of a key fail, so the
    clean first copy is kept (``DataFrameModel`` configs cannot express that).
    """
    base = contract.to_schema()
    specs = {c.name: c for c in column_specs(contract)}
    columns = {}
    for name, column in base.columns.items():
        extra = type_checks(specs[str(name)])
        columns[name] = column.set_checks([*column.checks, *extra]) if extra else column
    keys = key_columns(contract)
    return pa.DataFrameSchema(
        columns=columns,
        checks=base.checks,
        strict=True,
        coerce=False,
        unique=keys if keys else None,
        report_duplicates="exclude_first",
        name=base.name,
    )


@_per_contract
def unkeyed_schema(contract: type[SourceContract]) -> pa.DataFrameSchema:
    """``validation_schema`` without its key check, for callers that judge keys themselves."""
    unkeyed = copy.copy(validation_schema(contract))
    unkeyed.unique = None
    return unkeyed


@_per_contract
def cell_schema(contract: type[SourceContract]) -> pa.DataFrameSchema:
    """``validation_schema``'s checks of each cell alone: dtypes, nullability, column checks.

    Without the checks whose verdict on a row depends on the other rows (the key, a ``unique``
    column, a frame-wide check), for judging rows apart from the batch they came in.
    """
    schema = validation_schema(contract)
    alone = schema.update_columns({name: {"unique": False} for name in schema.columns})
    alone.unique = None
    alone.checks = []
    return alone


def schema_fingerprint(contract: type[SourceContract]) -> str:
    """A short hash of the contract's columns, stamped on Feast objects and versions."""
    payload = [
        (c.name, _legacy_kind(c), c.nullable, _legacy_role(c), c.pii, c.classification)
        for c in column_specs(contract)
    ]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


# The first fingerprints named five kinds and one timestamp role; keeping their spelling for
# those columns keeps the versions already written (and their ids) valid.
_LEGACY_KINDS = {
    "Int64": "int",
    "Float64": "float",
    "String": "string",
    "Bool": "bool",
    "UnixTimestamp": "timestamp",
}


def _legacy_kind(spec: ColumnSpec) -> str:
    return _LEGACY_KINDS.get(str(spec.type), str(spec.type))


def _legacy_role(spec: ColumnSpec) -> str:
    return "timestamp" if spec.role in ("event_timestamp", "created_timestamp") else spec.role


__all__ = [
    "CREATED_TIMESTAMP",
    "EVENT_TIMESTAMP",
    "arrow_schema",
    "cell_schema",
    "column_specs",
    "contract_name",
    "feast_fields",
    "feature_specs",
    "key_columns",
    "odfv_fields_and_tags",
    "output_dtype",
    "pandas_dtype",
    "schema_fingerprint",
    "source_spec",
    "validation_schema",
]
