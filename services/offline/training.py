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
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.contracts.schema import output_dtype
from services.errors import EntityKeyError, RequestDataError, VersionNotFoundError
from services.offline.engine import (
    ENTITY_TS,
    arrow_to_pandas,
    connect,
    point_in_time,
    register_versions,
)
from services.resolution import ServicePlan, plan_service
from services.store import Store, definition_hash, service_version, view_version


@dataclass(frozen=True)
class TrainingSetVersion:
    """The identity and provenance of one training set.

    ``service_version``, ``view_versions`` (the definition versions lineage names, see
    ``services.store.view_version``) and ``features`` (the columns each view supplied) are
    recorded for lineage; they are not part of the version id.
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


def _check_entities(plan: ServicePlan, entities: pd.DataFrame) -> pd.DataFrame:
    for key in plan.join_keys:
        if key not in entities.columns:
            raise EntityKeyError(key, "missing from the entity frame")
        if entities[key].isna().any() or not pd.api.types.is_integer_dtype(entities[key]):
            raise EntityKeyError(key, "must be a non-null integer column")
    if ENTITY_TS not in entities.columns:
        raise EntityKeyError(ENTITY_TS, "missing from the entity frame")
    ts = entities[ENTITY_TS]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise EntityKeyError(ENTITY_TS, "must be tz-aware timestamps (UTC)")
    for spec in plan.request_fields:
        if spec.name not in entities.columns:
            raise RequestDataError(spec.name, "missing from the entity frame (request data)")
    return entities


def _view_hashes(store: Store, plan: ServicePlan) -> dict[str, str]:
    out = {read.view: definition_hash(store.feature_views[read.view]) for read in plan.views}
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


def join_features(
    store: Store, plan: ServicePlan, entities: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The point-in-time frame: entity columns in input order, then the service's features."""
    _check_entities(plan, entities)
    base = entities.reset_index(drop=True)
    keyed = pd.DataFrame({k: base[k].astype("int64") for k in plan.join_keys})
    # Timestamps are compared at microsecond precision, as they are stored.
    keyed[ENTITY_TS] = base[ENTITY_TS].dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    keyed["_row"] = range(len(base))
    out = base.copy()
    read_versions: dict[str, list[str]] = {}
    con = connect()
    try:
        con.register("entity_rows", pa.Table.from_pandas(keyed, preserve_index=False))
        for i, read in enumerate(plan.views):
            read_versions[read.source] = register_versions(
                con, store.settings.offline_dir, read, f"src_{i}"
            )
            joined = arrow_to_pandas(point_in_time(con, "entity_rows", read, f"src_{i}"))
            joined = joined.set_index("_row").sort_index()
            for spec in read.features:
                out[spec.name] = joined[spec.name].astype(output_dtype(spec)).array
    finally:
        con.close()
    for odfv in plan.on_demand:
        computed = odfv.transform(out)
        for spec in odfv.features:
            out[spec.name] = pd.Series(computed[spec.name], index=out.index, dtype="float64")
    for spec in plan.output_specs:
        if spec.kind == "bool":
            out[spec.name] = out[spec.name].astype("boolean")
    return out, read_versions


def frame_hash(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(",".join(str(t) for t in frame.dtypes).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def build_training_set(
    store: Store, service: str, entities: pd.DataFrame, *, name: str | None = None
) -> tuple[pd.DataFrame, TrainingSetVersion]:
    """Build and record a training set; identical inputs give the identical version."""
    plan = plan_service(store, service)
    frame, read_versions = join_features(store, plan, entities)
    full_hash = frame_hash(frame)
    view_hashes = _view_hashes(store, plan)
    ident = hashlib.sha256(
        json.dumps([full_hash, read_versions, view_hashes], sort_keys=True).encode()
    ).hexdigest()[:16]
    ts_name = name or service
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
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(
        {
            **(table.schema.metadata or {}),
            b"skewless.training_set": json.dumps(asdict(meta)).encode(),
        }
    )
    tmp = folder / f".{final.name}.tmp-{os.getpid()}"
    pq.write_table(table, tmp)
    os.replace(tmp, final)
    return frame, meta


def load_training_set_version(path: Path) -> TrainingSetVersion:
    meta = (pq.read_schema(path).metadata or {})[b"skewless.training_set"]
    return TrainingSetVersion(**json.loads(meta))


def training_set_names(training_dir: Path, version: str) -> list[str]:
    """The names of the training sets recorded at ``version`` (several if their content is)."""
    return sorted(path.parent.name for path in training_dir.glob(f"*/{version}.parquet"))


def find_training_set(training_dir: Path, version: str) -> tuple[pd.DataFrame, TrainingSetVersion]:
    """Load a training set by version id from any name."""
    for path in training_dir.glob(f"*/{version}.parquet"):
        return pd.read_parquet(path), load_training_set_version(path)
    raise VersionNotFoundError("training set", version)
