"""The freshness audit: event-time age of what the online store would serve, per view.

Feast's freshness gauge measures time since the last materialization; this measures the
age of the values themselves. Per view: the age of the newest online value and the share of
entities whose value has expired (older than the view's ttl, so served as null). A view
breaches when its newest value is older than its freshness SLO (the contract's, default twice
its ingest cadence), or when the online store lost the values written to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.audits.parity import sample_keys
from services.clock import now_utc
from services.contracts.schema import source_spec
from services.online.reader import OnlineReader
from services.online.state import lost_views
from services.resolution import applied_views, plan_view
from services.store import Store

CHUNK = 1000


@dataclass
class ViewFreshness:
    view: str
    entities: int
    online: int
    newest_event: datetime | None
    newest_age_s: float | None
    expired_share: float
    slo_s: float
    breached: bool
    lost: bool = False  # the online store lost the values written to it (restarted empty)


def audit_view_freshness(
    store: Store, reader: OnlineReader, view: str, at: datetime, *, lost: bool = False
) -> ViewFreshness:
    read = plan_view(store, view)
    keys = sample_keys(store, read, None)
    slo = source_spec(store.repository.contract(read.source)).freshness_slo
    newest: datetime | None = None
    online = expired = 0
    for i in range(0, len(keys), CHUNK):
        for ts, _ in reader.read_view(read, keys[i : i + CHUNK]):
            if ts is None:
                continue
            online += 1
            newest = ts if newest is None or ts > newest else newest
            if read.ttl > timedelta(0) and ts < at - read.ttl:
                expired += 1
    age = None if newest is None else (at - newest).total_seconds()
    # A view with no online value at all breaches: nothing is being served from it.
    breached = lost or age is None or age > slo.total_seconds()
    return ViewFreshness(
        view=view,
        entities=len(keys),
        online=online,
        newest_event=newest,
        newest_age_s=age,
        expired_share=(expired / online) if online else 0.0,
        slo_s=slo.total_seconds(),
        breached=breached,
        lost=lost,
    )


def audit_freshness(store: Store, *, at: datetime | None = None) -> list[ViewFreshness]:
    """Freshness of every batch feature view's online values.

    A view whose online values the store lost (its marker is gone, see
    :mod:`services.online.state`) breaches, with ``lost`` set, whatever is left of it.
    """
    at = at or now_utc()
    lost = set(lost_views(store))
    reader = OnlineReader(store)
    try:
        return [
            audit_view_freshness(store, reader, v, at, lost=v in lost) for v in applied_views(store)
        ]
    finally:
        reader.close()
