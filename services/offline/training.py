"""Point-in-time correct training sets and their immutable versions.

``build_training_set`` joins every view of a feature service onto the entity
rows (see :mod:`services.offline.engine` for the rule), applies the shared
on-demand transforms, keeps the input order and dtypes (nullable ints stay
``Int64``), and records a version: a content hash of the frame, the dataset
versions read and the hashes of the view definitions.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lineage.identity import training_set_dataset
from services.contracts.base import ColumnSpec
from services.contracts.schema import output_dtype
from services.definition_versions import definition_hash, service_version, view_version
from services.errors import (
    EntityKeyError,
    InputError,
    RequestDataError,
    RequestError,
    VersionNotFoundError,
)
from services.offline.engine import ENTITY_TS, arrow_to_pandas
from services.offline.hashing import hashable_frame
from services.offline.pit import open_engine
from services.offline.temporaries import temporary_for
from services.ondemand import input_columns, output_series, run_on_demand
from services.online.requests import check_key_value, check_request_value
from services.online.values import python_value
from services.resolution import ServicePlan, plan_service
from services.store import Store

# Called as each step of a build starts, with what it is about to do (for a progress display).
Steps = Callable[[str], None]


def _no_steps(step: str) -> None:
    """What ``steps`` is when the caller shows no progress."""


@dataclass(frozen=True)
class TrainingSetVersion:
    """The identity and provenance of one training set.

    ``service_version``, ``view_versions`` (the definition versions lineage names, see
    ``services.definition_versions.view_version``) and ``features`` (the columns each view
    supplied) are recorded for lineage; they are not part of the version id.
    """

    name: str
    version: str
    service: str
    created: str
    rows: int
    content_hash: str
    dataset_versions: dict[str, list[str]]
    view_hashes: dict[str, str]
    path: str
    service_version: str = ""
    view_versions: dict[str, str] = field(default_factory=dict)
    features: dict[str, list[str]] = field(default_factory=dict)


def _check_key(plan: ServicePlan, name: str, column: pd.Series) -> None:
    ktype = plan.key_types[name]
    row = _first_null(column)
    if row is not None:
        raise EntityKeyError(name, f"row {row}: must be a non-null {ktype} column (nulls found)")
    if ktype.is_integer:
        if not pd.api.types.is_integer_dtype(column):
            for row, value in enumerate(column.tolist()):  # name the first row, as serving does
                check_key_value(name, ktype, row, value)
            raise EntityKeyError(name, f"must be a non-null integer column ({ktype})")
        low, high = (-(2**31), 2**31 - 1) if ktype.name == "Int32" else (-(2**63), 2**63 - 1)
        if len(column) and (column.min() < low or column.max() > high):
            raise EntityKeyError(name, f"values outside {ktype}")
    elif not column.map(lambda v: isinstance(v, str)).all():
        for row, value in enumerate(column.tolist()):
            check_key_value(name, ktype, row, value)
        raise EntityKeyError(name, "must be a non-null String column (text keys)")


def _check_request_column(spec: ColumnSpec, column: pd.Series) -> None:
    """Request data as serving checks it (type, range, allowed values), row by row."""
    for row, value in enumerate(column.tolist()):
        missing = value is None or value is pd.NA or (isinstance(value, float) and value != value)
        check_request_value(spec, row, None if missing else value)


def _check_entities(plan: ServicePlan, entities: Any) -> pd.DataFrame:
    """The entity frame, checked as serving checks a request; its timestamps made UTC."""
    if not isinstance(entities, pd.DataFrame):
        raise RequestError(f"entities must be a pandas DataFrame, not {type(entities).__name__}")
    twice = sorted({str(c) for c in entities.columns[entities.columns.duplicated()]})
    if twice:
        raise RequestError(f"the entity frame has columns {twice} more than once")
    for key in plan.join_keys:
        if key not in entities.columns:
            raise EntityKeyError(key, "missing from the entity frame")
        _check_key(plan, key, entities[key])
    if ENTITY_TS not in entities.columns:
        raise EntityKeyError(ENTITY_TS, "missing from the entity frame")
    entities = entities.assign(**{ENTITY_TS: _utc_times(entities[ENTITY_TS])})
    for spec in plan.request_fields:
        if spec.name not in entities.columns:
            raise RequestDataError(spec.name, "missing from the entity frame (request data)")
        _check_request_column(spec, entities[spec.name])
    return entities


def _utc_times(ts: pd.Series) -> pd.Series:
    """Entity timestamps as tz-aware UTC; naive, non-time or null values are refused.

    A column of aware datetimes with different offsets (a database driver's answer across a
    daylight-saving change) has pandas' ``object`` dtype; it is converted, not refused.
    """
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        aware = ts.dtype == object and all(
            isinstance(v, datetime) and v.utcoffset() is not None for v in ts.dropna()
        )
        if not aware:
            raise EntityKeyError(ENTITY_TS, "must be tz-aware timestamps (UTC)")
        ts = pd.to_datetime(ts, utc=True)
    row = _first_null(ts)
    if row is not None:
        raise EntityKeyError(ENTITY_TS, f"row {row}: null (every row needs a time)")
    return ts


def _first_null(column: pd.Series) -> int | None:
    """The position of the column's first null, or None (errors name the row, as serving's)."""
    nulls = column.isna().to_numpy()
    return int(nulls.argmax()) if nulls.any() else None


def _view_hashes(store: Store, plan: ServicePlan) -> dict[str, str]:
    out = {read.view: definition_hash(store.feature_views[read.view]) for read in plan.fetch}
    out.update({o.view: definition_hash(store.odfvs[o.view]) for o in plan.on_demand})
    return out


def _lineage_fields(store: Store, plan: ServicePlan, view_hashes: dict[str, str]) -> dict[str, Any]:
    """The fields of ``TrainingSetVersion`` recorded for lineage only (see the class)."""
    return {
        "service_version": service_version(store, plan.name),
        "view_versions": {view: view_version(store, view) for view in view_hashes},
        "features": {
            **{read.view: [f.name for f in read.features] for read in plan.views},
            **{o.view: [f.name for f in o.features] for o in plan.on_demand},
        },
    }


def _feature_column(table: pa.Table, name: str, spec: ColumnSpec) -> pd.Series:
    """A joined feature in its output dtype; arrays, maps and structs as Python objects."""
    column = table.column(name)
    if output_dtype(spec) == "object":  # stored forms (Json/Map text) to Python values
        return output_series(spec, [python_value(v, spec.type) for v in column.to_pylist()])
    return arrow_to_pandas(pa.table({name: column}))[name].astype(output_dtype(spec))


def join_features(
    store: Store,
    plan: ServicePlan,
    entities: pd.DataFrame,
    *,
    full_feature_names: bool = False,
    steps: Steps | None = None,
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The point-in-time frame: entity columns in input order, then the service's features.

    ``steps`` hears of each view's join and each on-demand view's transform as it starts.
    """
    steps = steps or _no_steps
    entities = _check_entities(plan, entities)
    names = plan.output_names(full_feature_names)
    base = entities.reset_index(drop=True)
    keyed = pd.DataFrame({k: base[k] for k in plan.join_keys})
    # Timestamps are compared at microsecond precision, as they are stored.
    keyed[ENTITY_TS] = base[ENTITY_TS].dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    keyed["_row"] = range(len(base))
    out = base.copy()
    read_versions: dict[str, list[str]] = {}
    fetched: dict[tuple[str, str], pd.Series] = {}
    rows = pa.Table.from_pandas(keyed, preserve_index=False)
    with open_engine(store.settings) as engine:
        for read in plan.fetch:
            steps(f"point-in-time join: {read.view}")
            joined, read_versions[read.source] = engine.join(rows, read)
            for spec in read.features:
                fetched[(read.alias, spec.name)] = _feature_column(joined, spec.name, spec)
    columns = [fetched[(r.alias, f.name)] for r in plan.views for f in r.features]
    for odfv in plan.on_demand:
        steps(f"on-demand transform: {odfv.view}")
        inputs = input_columns(odfv, fetched)
        inputs.update({s.name: (s, base[s.name]) for s in odfv.request_fields})
        inputs.update({k: (None, base[k]) for k in plan.join_keys})
        computed = run_on_demand(odfv, inputs, len(base))
        columns += [output_series(spec, computed[spec.name]) for spec in odfv.features]
    for name, column in zip(names, columns, strict=True):
        out[name] = column.array
    return out, read_versions


def frame_hash(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(",".join(str(t) for t in frame.dtypes).encode())
    rows = pd.util.hash_pandas_object(hashable_frame(frame), index=False)
    digest.update(rows.to_numpy().tobytes())
    return digest.hexdigest()


def build_training_set(
    store: Store,
    service: str,
    entities: pd.DataFrame,
    *,
    name: str | None = None,
    steps: Steps | None = None,
) -> tuple[pd.DataFrame, TrainingSetVersion]:
    """Build and record a training set; identical inputs give the identical version.

    Args:
        store: The project's store.
        service: The feature service whose features are joined.
        entities: Join keys, ``event_timestamp`` and request data, one row per example.
        name: The training set's name (default: the service's).
        steps: Hears of each step as it starts: resolving the service, each view's
            point-in-time join, each on-demand transform, recording the version.

    """
    steps = steps or _no_steps
    ts_name = name or service
    try:  # the name is lineage's and a folder's: checked before anything is read or written
        training_set_dataset(ts_name)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    steps(f"resolving {service}")
    plan = plan_service(store, service)
    frame, read_versions = join_features(store, plan, entities, steps=steps)
    steps("recording the version")
    full_hash = frame_hash(frame)
    view_hashes = _view_hashes(store, plan)
    ident = hashlib.sha256(
        json.dumps([full_hash, read_versions, view_hashes], sort_keys=True).encode()
    ).hexdigest()[:16]
    folder = store.settings.training_dir / ts_name
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"ts{ident}.parquet"
    lineage = _lineage_fields(store, plan, view_hashes)
    meta = TrainingSetVersion(
        name=ts_name,
        version=f"ts{ident}",
        service=service,
        created=datetime.now(UTC).isoformat(),
        rows=len(frame),
        content_hash=full_hash,
        dataset_versions=read_versions,
        view_hashes=view_hashes,
        path=str(final),
        **lineage,
    )
    if final.exists():  # recorded before, perhaps without the lineage fields of today
        return frame, replace(load_training_set_version(final), **lineage)
    table = _file_table(frame, plan, full_feature_names=False)
    table = table.replace_schema_metadata(
        {
            **(table.schema.metadata or {}),
            b"skewless.training_set": json.dumps(asdict(meta)).encode(),
        }
    )
    tmp = temporary_for(final)
    pq.write_table(table, tmp)
    os.replace(tmp, final)
    return frame, meta


def load_training_set_version(path: Path) -> TrainingSetVersion:
    meta = (pq.read_schema(path).metadata or {})[b"skewless.training_set"]
    return TrainingSetVersion(**json.loads(meta))


def training_set_names(training_dir: Path, version: str) -> list[str]:
    """The names of the training sets recorded at ``version`` (several if their content is)."""
    return sorted(path.parent.name for path in training_dir.glob(f"*/{version}.parquet"))


def _file_table(frame: pd.DataFrame, plan: ServicePlan, *, full_feature_names: bool) -> pa.Table:
    """The training frame as Arrow with each feature's declared type.

    Arrays and structs get their declared Arrow types (a list of float32, not of doubles);
    Map and Json values, whose shapes vary, are stored as JSON text, as dataset versions store
    them, and named in the file's metadata so that reading the file gives the objects back.
    """
    names = plan.output_names(full_feature_names)
    out = frame.copy(deep=False)
    documents = []
    fields = {}
    for name, spec in zip(names, plan.output_specs, strict=True):
        if spec.type.name in ("Map", "Json"):
            out[name] = [None if v is None else json.dumps(v, sort_keys=True) for v in frame[name]]
            documents.append(name)
        elif spec.type.name in ("Array", "Struct"):
            fields[name] = spec.type.arrow()
    table = pa.Table.from_pandas(out, preserve_index=False)
    for name, arrow_type in fields.items():
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table.column(name).cast(arrow_type))
    meta = {**(table.schema.metadata or {}), _DOCUMENTS_KEY: json.dumps(documents).encode()}
    return table.replace_schema_metadata(meta)


_DOCUMENTS_KEY = b"skewless.json_columns"


def read_training_frame(path: Path) -> pd.DataFrame:
    """A training set file as the frame it was built as (lists, dicts, declared dtypes)."""
    table = pq.read_table(path)
    documents = json.loads((table.schema.metadata or {}).get(_DOCUMENTS_KEY, b"[]"))
    frame = table.to_pandas()
    for name in frame.columns:
        if name in documents:
            frame[name] = [None if v is None else json.loads(v) for v in frame[name]]
        elif pa.types.is_list(table.schema.field(name).type) or pa.types.is_struct(
            table.schema.field(name).type
        ):
            frame[name] = pd.Series(table.column(name).to_pylist(), dtype=object)
    return frame


def find_training_set(training_dir: Path, version: str) -> tuple[pd.DataFrame, TrainingSetVersion]:
    """Load a training set by version id from any name."""
    for path in training_dir.glob(f"*/{version}.parquet"):
        return read_training_frame(path), load_training_set_version(path)
    raise VersionNotFoundError("training set", version)
