"""Every online read: one function per layer, the same ttl rule as the offline path.

``read_view`` returns what is stored (event time and raw values per entity);
``online_features`` turns that into a service's answer: per feature the value,
status, event time and age, with expired values served as null with status
``OUTSIDE_MAX_AGE`` and on-demand features computed by the shared transform.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import redis

from services.errors import (
    EntityKeyError,
    OnlineStoreUnavailableError,
    RequestDataError,
    RequestTooLargeError,
)
from services.online.client import redis_client
from services.online.codec import (
    decode_fast,
    decode_timestamp,
    decode_value,
    entity_key,
    field_key,
    redis_key,
    ts_key,
)
from services.resolution import ServicePlan, ViewRead
from services.store import Store, now_utc

PRESENT, NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE = (
    "PRESENT",
    "NULL_VALUE",
    "NOT_FOUND",
    "OUTSIDE_MAX_AGE",
)

Stored = tuple[datetime | None, dict[str, Any] | None]


@dataclass
class FeatureColumn:
    """One feature (or join key) for every requested entity row."""

    name: str
    values: list[Any]
    statuses: list[str]
    event_timestamps: list[datetime | None]

    def ages(self, at: datetime) -> list[float | None]:
        return [None if t is None else (at - t).total_seconds() for t in self.event_timestamps]


@dataclass
class OnlineResult:
    service: str
    at: datetime
    columns: list[FeatureColumn]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({c.name: c.values for c in self.columns})


class OnlineReader:
    """Reads one store's online values; create once per process and reuse."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._redis: redis.Redis[bytes] | None = None
        if store.settings.online_store == "redis":
            self._redis = redis_client(store.settings)

    def ping(self) -> bool:
        if self._redis is None:
            return self.store.settings.online_sqlite_path.exists()
        try:
            return bool(self._redis.ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False

    def read_view(self, read: ViewRead, keys: Sequence[int]) -> list[Stored]:
        """Stored (event time, {feature: value}) per key; (None, None) when absent."""
        return self.read_views([(read, keys)])[0]

    def read_views(self, wanted: Sequence[tuple[ViewRead, Sequence[int]]]) -> list[list[Stored]]:
        """Several views at once: on Redis, one pipelined round trip for the whole request."""
        if self._redis is not None:
            return self._read_redis(wanted)
        return [self._read_feast(read, keys) for read, keys in wanted]

    def _read_feast(self, read: ViewRead, keys: Sequence[int]) -> list[Stored]:
        fv = self.store.feature_views[read.view]
        rows = self.store.online_store().online_read(
            self.store.config,
            fv,
            [entity_key(read.join_key, k) for k in keys],
            [f.name for f in read.features],
        )
        return [
            (ts, None if values is None else {n: decode_value(v) for n, v in values.items()})
            for ts, values in rows
        ]

    def _read_redis(self, wanted: Sequence[tuple[ViewRead, Sequence[int]]]) -> list[list[Stored]]:
        assert self._redis is not None
        project = self.store.project
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for read, keys in wanted:
                    fields: list[bytes | str] = [
                        field_key(read.view, f.name) for f in read.features
                    ]
                    fields.append(ts_key(read.view))
                    for key in keys:
                        pipe.hmget(redis_key(project, read.join_key, key), fields)
                replies = iter(pipe.execute())
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise OnlineStoreUnavailableError(str(exc)) from exc
        results: list[list[Stored]] = []
        for read, keys in wanted:
            names = [f.name for f in read.features]
            out: list[Stored] = []
            for _ in keys:
                reply = next(replies)
                ts = decode_timestamp(reply[-1])
                if ts is None:
                    out.append((None, None))
                else:
                    values = {n: decode_fast(r) for n, r in zip(names, reply[:-1], strict=True)}
                    out.append((ts, values))
            results.append(out)
        return results

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()


def _is_int_key(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_entities(plan: ServicePlan, entities: Mapping[str, Sequence[Any]], max_rows: int) -> int:
    """Validate entity keys strictly (no coercion); return the number of rows."""
    unknown = sorted(set(entities) - set(plan.join_keys) - {f.name for f in plan.request_fields})
    if unknown:
        raise EntityKeyError(unknown[0], f"not a join key of {plan.name} ({plan.join_keys})")
    missing = [k for k in plan.join_keys if k not in entities]
    if missing:
        raise EntityKeyError(missing[0], "missing")
    lengths = {len(entities[k]) for k in plan.join_keys}
    if len(lengths) != 1:
        raise EntityKeyError(plan.join_keys[0], "entity key lists differ in length")
    n = lengths.pop()
    if n > max_rows:
        raise RequestTooLargeError("entity rows", max_rows)
    for key in plan.join_keys:
        for i, value in enumerate(entities[key]):
            if not _is_int_key(value):
                raise EntityKeyError(key, f"row {i}: expected an integer, got {value!r}")
            if not -(2**63) <= value < 2**63:
                raise EntityKeyError(key, f"row {i}: {value} is outside int64")
    return n


def check_request_data(
    plan: ServicePlan, request_data: Mapping[str, Sequence[Any]], rows: int
) -> dict[str, list[float]]:
    """Validate request data against its contract: type and range, no coercion."""
    out: dict[str, list[float]] = {}
    for spec in plan.request_fields:
        if spec.name not in request_data:
            raise RequestDataError(spec.name, "missing (needed by an on-demand feature)")
        values = list(request_data[spec.name])
        if len(values) != rows:
            raise RequestDataError(spec.name, f"{len(values)} values for {rows} entity rows")
        for i, v in enumerate(values):
            ok = isinstance(v, int | float) and not isinstance(v, bool)
            if not ok or (isinstance(v, float) and not math.isfinite(v)):
                raise RequestDataError(spec.name, f"row {i}: expected a number, got {v!r}")
            if (spec.ge is not None and v < spec.ge) or (spec.le is not None and v > spec.le):
                raise RequestDataError(
                    spec.name, f"row {i}: {v} outside the contract range [{spec.ge}, {spec.le}]"
                )
        out[spec.name] = [float(v) for v in values]
    return out


def _view_columns(read: ViewRead, stored: list[Stored], at: datetime) -> list[FeatureColumn]:
    cutoff = at - read.ttl if read.ttl.total_seconds() > 0 else None
    cols = [FeatureColumn(f.name, [], [], []) for f in read.features]
    for ts, values in stored:
        expired = ts is not None and cutoff is not None and ts < cutoff
        for col in cols:
            col.event_timestamps.append(ts)
            if values is None:
                col.values.append(None)
                col.statuses.append(NOT_FOUND)
            elif expired:
                col.values.append(None)
                col.statuses.append(OUTSIDE_MAX_AGE)
            else:
                value = values.get(col.name)
                col.values.append(value)
                col.statuses.append(PRESENT if value is not None else NULL_VALUE)
    return cols


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def online_features(
    reader: OnlineReader,
    plan: ServicePlan,
    entities: Mapping[str, Sequence[Any]],
    request_data: Mapping[str, Sequence[Any]] | None = None,
    *,
    at: datetime | None = None,
) -> OnlineResult:
    """The online answer for a feature service: join keys first, then features in order."""
    at = at or now_utc()
    n = check_entities(plan, entities, reader.store.settings.serve_max_entities)
    request = check_request_data(plan, request_data or {}, n)
    columns = [
        FeatureColumn(k, list(entities[k]), [PRESENT] * n, [None] * n) for k in plan.join_keys
    ]
    by_name: dict[str, FeatureColumn] = {}
    wanted = [(read, [int(k) for k in entities[read.join_key]]) for read in plan.views]
    for read, stored in zip(plan.views, reader.read_views(wanted), strict=True):
        view_cols = _view_columns(read, stored, at)
        by_name.update({c.name: c for c in view_cols})
        columns.extend(view_cols)
    for odfv in plan.on_demand:
        inputs: dict[str, Sequence[Any]] = {name: col.values for name, col in by_name.items()}
        inputs.update(request)
        outputs = odfv.transform(inputs)
        for spec in odfv.features:
            values = [_clean(v) for v in list(outputs[spec.name])]
            columns.append(
                FeatureColumn(
                    spec.name,
                    values,
                    [PRESENT if v is not None else NULL_VALUE for v in values],
                    [None] * n,
                )
            )
    return OnlineResult(service=plan.name, at=at, columns=columns)
