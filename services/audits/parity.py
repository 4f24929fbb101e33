"""The parity audit: proves that serving reads what training reads.

For sampled entities of each view, at one instant: our online value (after the
ttl rule) must equal the offline point-in-time value, and the raw value we
store must equal what Feast's own ``get_online_features`` returns. On-demand
features of a service are compared the same way with generated request data.
Zero mismatches is the only passing figure.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from services.clock import now_utc
from services.contracts.base import ColumnSpec
from services.contracts.types import FieldType
from services.offline.pit import open_engine
from services.offline.training import join_features
from services.online.reader import OnlineReader, _view_columns, online_features
from services.online.values import canonical
from services.resolution import ServicePlan, ViewRead, applied_views, plan_service, plan_view
from services.store import Store, feast_notes_ignored


@dataclass(frozen=True)
class Mismatch:
    view: str
    entity: Any
    feature: str
    online: Any
    expected: Any
    against: str  # "offline" or "feast"


@dataclass
class ViewParity:
    view: str
    entities: int = 0
    cells: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)


@dataclass
class ParityReport:
    at: datetime
    views: list[ViewParity]

    @property
    def mismatches(self) -> list[Mismatch]:
        return [m for v in self.views for m in v.mismatches]

    @property
    def passed(self) -> bool:
        return not self.mismatches


def _same(a: Any, b: Any, ftype: FieldType) -> bool:
    """Equal as canonical values of the declared type (so 1.0 is not 1, and [] is not None)."""
    a, b = canonical(a, ftype), canonical(b, ftype)
    if a is None or b is None:
        return a is None and b is None
    return bool(a == b) and type(a) is type(b)


def sample_keys(
    store: Store, read: ViewRead, sample: int | None, seed: int = 0
) -> list[tuple[Any, ...]]:
    """Entity keys (tuples in the view's key order) with data, sampled reproducibly."""
    with open_engine(store.settings) as engine:
        keys = engine.entity_keys(read)
    if sample is not None and sample < len(keys):
        keys = sorted(random.Random(seed).sample(keys, sample))
    return keys


def _entity_frame(read: ViewRead, keys: list[tuple[Any, ...]], at: datetime) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            k.column: pd.Series([row[i] for row in keys], dtype=k.type.pandas_dtype(False))
            for i, k in enumerate(read.keys)
        }
    )
    frame["event_timestamp"] = pd.Timestamp(at)
    return frame


def _offline_values(
    store: Store, read: ViewRead, keys: list[tuple[Any, ...]], at: datetime
) -> pd.DataFrame:
    plan = ServicePlan(name=f"view:{read.view}", views=(read,), on_demand=())
    frame, _ = join_features(store, plan, _entity_frame(read, keys, at))
    return frame


def _feast_values(
    store: Store, read: ViewRead, keys: list[tuple[Any, ...]]
) -> dict[str, list[Any]]:
    # to_dict, not to_df: Feast's frame turns nullable ints into floats, its values do not.
    with feast_notes_ignored():  # Feast's read rebuilds its objects from the registry
        response = store.feast.get_online_features(
            features=[f"{read.view}:{f.name}" for f in read.features],
            entity_rows=[{k.name: row[i] for i, k in enumerate(read.keys)} for row in keys],
        )
    return dict(response.to_dict())


def _label(key: tuple[Any, ...]) -> Any:
    return key[0] if len(key) == 1 else key


def audit_view(
    store: Store,
    reader: OnlineReader,
    read: ViewRead,
    keys: list[tuple[Any, ...]],
    at: datetime,
) -> ViewParity:
    result = ViewParity(view=read.alias, entities=len(keys))
    if not keys:
        return result
    stored = reader.read_view(read, keys)
    online = {c.name: c.values for c in _view_columns(read, stored, at)}
    offline = _offline_values(store, read, keys, at)
    feast = _feast_values(store, read, keys)
    for spec in read.features:
        off_col, feast_col = offline[spec.name].tolist(), list(feast[spec.name])
        for i, key in enumerate(keys):
            result.cells += 1
            if not _same(online[spec.name][i], off_col[i], spec.type):
                result.mismatches.append(
                    Mismatch(
                        read.view,
                        _label(key),
                        spec.name,
                        online[spec.name][i],
                        off_col[i],
                        "offline",
                    )
                )
            values = stored[i][1]
            raw = None if values is None else values.get(spec.name)
            if not _same(raw, feast_col[i], spec.type):
                result.mismatches.append(
                    Mismatch(read.view, _label(key), spec.name, raw, feast_col[i], "feast")
                )
    return result


def _request_values(spec: ColumnSpec, n: int, rng: random.Random) -> list[Any]:
    """Generated request data within the contract's range (or allowed values)."""
    if spec.allowed:
        return [rng.choice(list(spec.allowed)) for _ in range(n)]
    low = spec.ge if spec.ge is not None else 0.0
    high = min(spec.le if spec.le is not None else 1e4, 1e4)
    if spec.type.is_integer:
        return [rng.randint(int(low), int(high)) for _ in range(n)]
    if spec.type.is_float:
        return [round(rng.uniform(low, high), 2) for _ in range(n)]
    if spec.type.name == "Bool":
        return [rng.random() < 0.5 for _ in range(n)]
    if spec.type.name == "String":
        return [f"r{rng.randint(0, 99)}" for _ in range(n)]
    return [None] * n


def audit_on_demand(
    store: Store,
    reader: OnlineReader,
    plan: ServicePlan,
    keys: dict[str, list[Any]],
    at: datetime,
) -> list[ViewParity]:
    """Online on-demand outputs against the training-set path, for sampled entities."""
    keys = dict(keys)
    for odfv in plan.on_demand[:1]:
        for read in odfv.inputs[:1]:  # aligned keys of a view the transform reads
            rows = sample_keys(store, read, None)
            keys.update({k.column: [r[i] for r in rows] for i, k in enumerate(read.keys)})
    n = min((len(keys[k]) for k in plan.join_keys if k in keys), default=0)
    if not plan.on_demand or n == 0 or any(k not in keys for k in plan.join_keys):
        return []
    rng = random.Random(1)
    entities = {k: keys[k][:n] for k in plan.join_keys}
    request = {f.name: _request_values(f, n, rng) for f in plan.request_fields}
    online = online_features(reader, plan, entities, request, at=at)
    types = plan.key_types
    frame = pd.DataFrame(
        {
            **{k: pd.Series(v, dtype=types[k].pandas_dtype(False)) for k, v in entities.items()},
            "event_timestamp": pd.Timestamp(at),
            **{
                f.name: pd.Series(request[f.name], dtype=f.type.pandas_dtype(True))
                for f in plan.request_fields
            },
        }
    )
    offline, _ = join_features(store, plan, frame)
    by_name = {c.name: c.values for c in online.columns}
    out = []
    for odfv in plan.on_demand:
        result = ViewParity(view=odfv.view, entities=n)
        for spec in odfv.features:
            for i in range(n):
                result.cells += 1
                got, want = by_name[spec.name][i], offline[spec.name].iloc[i]
                if not _same(got, want, spec.type):
                    label = tuple(entities[k][i] for k in plan.join_keys)
                    result.mismatches.append(
                        Mismatch(odfv.view, _label(label), spec.name, got, want, "offline")
                    )
        out.append(result)
    return out


def audit_parity(
    store: Store,
    *,
    service: str | None = None,
    sample: int | None = 200,
    seed: int = 0,
    progress: Callable[[str, int], None] | None = None,
) -> ParityReport:
    """Compare online with offline (and with Feast) for sampled entities of each view.

    Args:
        store: The project's store.
        service: Only this feature service's views (and its on-demand views); all views if None.
        sample: Entities sampled per view; every entity if None.
        seed: The sampling seed, so that a run can be repeated.
        progress: Called after each view is checked with (view, how many views the audit
            checks); a service's on-demand views are checked together, then reported each.

    """
    at = now_utc()
    plan = plan_service(store, service) if service else None
    if plan:
        reads = list({(r.view, r.request_columns): r for r in plan.fetch}.values())
    else:
        reads = [plan_view(store, v) for v in applied_views(store)]
    total = len(reads) + (len(plan.on_demand) if plan else 0)
    reader = OnlineReader(store)
    try:
        views = []
        keys_by_join: dict[str, list[Any]] = {}
        for read in reads:
            keys = sample_keys(store, read, sample, seed)
            for i, key in enumerate(read.keys):
                keys_by_join.setdefault(key.column, [row[i] for row in keys])
            views.append(audit_view(store, reader, read, keys, at))
            if progress is not None:
                progress(read.view, total)
        if plan:
            views.extend(audit_on_demand(store, reader, plan, keys_by_join, at))
            for odfv in plan.on_demand:
                if progress is not None:
                    progress(odfv.view, total)
    finally:
        reader.close()
    return ParityReport(at=at, views=views)
