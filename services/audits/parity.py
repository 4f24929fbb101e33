"""The parity audit: proves that serving reads what training reads.

For sampled entities of each view, at one instant: our online value (after the
ttl rule) must equal the offline point-in-time value, and the raw value we
store must equal what Feast's own ``get_online_features`` returns. On-demand
features of a service are compared the same way with generated request data.
Zero mismatches is the only passing figure.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from services.offline.engine import connect, register_versions
from services.offline.training import join_features
from services.online.reader import OnlineReader, _view_columns, online_features
from services.resolution import ServicePlan, ViewRead, plan_service, plan_view
from services.store import Store, now_utc


@dataclass(frozen=True)
class Mismatch:
    view: str
    entity: int
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


def _same(a: Any, b: Any) -> bool:
    a = None if a is None or (isinstance(a, float) and math.isnan(a)) or a is pd.NA else a
    b = None if b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NA else b
    if a is None or b is None:
        return a is None and b is None
    if hasattr(b, "item"):
        b = b.item()
    return (bool(a == b) and type(a) is type(b)) or (
        isinstance(a, float) and isinstance(b, float) and a == b
    )


def sample_keys(store: Store, read: ViewRead, sample: int | None, seed: int = 0) -> list[int]:
    con = connect()
    try:
        if not register_versions(con, store.settings.offline_dir, read, "src"):
            return []
        keys = sorted(
            int(r[0]) for r in con.execute(f'SELECT DISTINCT "{read.join_key}" FROM src').fetchall()
        )
    finally:
        con.close()
    if sample is not None and sample < len(keys):
        keys = sorted(random.Random(seed).sample(keys, sample))
    return keys


def _offline_values(store: Store, read: ViewRead, keys: list[int], at: datetime) -> pd.DataFrame:
    plan = ServicePlan(name=f"view:{read.view}", views=(read,), on_demand=())
    entities = pd.DataFrame(
        {read.join_key: pd.array(keys, dtype="int64"), "event_timestamp": pd.Timestamp(at)}
    )
    frame, _ = join_features(store, plan, entities)
    return frame


def _feast_values(store: Store, read: ViewRead, keys: list[int]) -> dict[str, list[Any]]:
    # to_dict, not to_df: Feast's frame turns nullable ints into floats, its values do not.
    response = store.feast.get_online_features(
        features=[f"{read.view}:{f.name}" for f in read.features],
        entity_rows=[{read.join_key: k} for k in keys],
    )
    return dict(response.to_dict())


def audit_view(
    store: Store, reader: OnlineReader, read: ViewRead, keys: list[int], at: datetime
) -> ViewParity:
    result = ViewParity(view=read.view, entities=len(keys))
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
            if not _same(online[spec.name][i], off_col[i]):
                result.mismatches.append(
                    Mismatch(read.view, key, spec.name, online[spec.name][i], off_col[i], "offline")
                )
            values = stored[i][1]
            raw = None if values is None else values.get(spec.name)
            if not _same(raw, feast_col[i]):
                result.mismatches.append(
                    Mismatch(read.view, key, spec.name, raw, feast_col[i], "feast")
                )
    return result


def audit_on_demand(
    store: Store, reader: OnlineReader, plan: ServicePlan, keys: dict[str, list[int]], at: datetime
) -> list[ViewParity]:
    n = min(len(v) for v in keys.values()) if keys else 0
    if not plan.on_demand or n == 0:
        return []
    rng = random.Random(1)
    entities = {k: v[:n] for k, v in keys.items()}
    request = {
        f.name: [round(rng.uniform(f.ge or 0.0, min(f.le or 1e4, 1e4)), 2) for _ in range(n)]
        for f in plan.request_fields
    }
    online = online_features(reader, plan, entities, request, at=at)
    frame = pd.DataFrame(
        {
            **{k: pd.array(v, dtype="int64") for k, v in entities.items()},
            "event_timestamp": pd.Timestamp(at),
            **request,
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
                if not _same(by_name[spec.name][i], offline[spec.name].iloc[i]):
                    result.mismatches.append(
                        Mismatch(
                            odfv.view,
                            entities[plan.join_keys[0]][i],
                            spec.name,
                            by_name[spec.name][i],
                            offline[spec.name].iloc[i],
                            "offline",
                        )
                    )
        out.append(result)
    return out


def audit_parity(
    store: Store, *, service: str | None = None, sample: int | None = 200, seed: int = 0
) -> ParityReport:
    """Compare online with offline (and with Feast) for sampled entities of each view."""
    at = now_utc()
    plan = plan_service(store, service) if service else None
    reads = list(plan.views) if plan else [plan_view(store, v) for v in sorted(store.feature_views)]
    reader = OnlineReader(store)
    try:
        views = []
        keys_by_join: dict[str, list[int]] = {}
        for read in reads:
            keys = sample_keys(store, read, sample, seed)
            keys_by_join.setdefault(read.join_key, keys)
            views.append(audit_view(store, reader, read, keys, at))
        if plan:
            views.extend(audit_on_demand(store, reader, plan, keys_by_join, at))
    finally:
        reader.close()
    return ParityReport(at=at, views=views)
