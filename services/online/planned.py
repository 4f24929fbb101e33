"""Online answers from the serving plan: no Feast, no registry, no repository import.

``skewless online`` is one process per lookup, so the seconds Feast, Pandera and the
repository's definitions take to import are most of its time. With a current serving plan
(:mod:`services.serving_plan`) the reads are already resolved, and every online store reads
without Feast: SQLite through :mod:`services.online.stores.sqlite_read` (the reader the full
path uses too), Redis and Redis Cluster through raw RESP. The answer is assembled by the same
:func:`services.online.answer.online_features`, and a Redis store's lost views are found by the
same :func:`services.online.state.lost_views`, as on the full path.
"""

from __future__ import annotations

from services.online.reader import OnlineReader
from services.online.stores import SettingsProject
from services.reads import ServicePlan
from services.serving_plan import load_service_plan
from services.settings import Settings


def open_planned(settings: Settings, service: str) -> tuple[ServicePlan, OnlineReader] | None:
    """The service's plan and a reader of the project's store, or None: take the full path.

    Raises:
        UnknownFeatureServiceError: the current plan knows every service, and not this one.

    """
    plan = load_service_plan(settings, service)
    if plan is None:
        return None
    return plan, OnlineReader(SettingsProject(settings, settings.project))


def lost_planned_views(reader: OnlineReader, plan: ServicePlan) -> list[str]:
    """The plan's views whose online values the store lost (Redis restarted empty).

    Both of ``skewless online``'s paths ask this; the check below spares a SQLite store the
    import of the materialization record (``lost_views`` would answer [] for it too).
    """
    if not reader.settings.uses_redis:  # a file keeps no markers: nothing to ask for
        return []
    from services.online.state import lost_views

    return [v for v in lost_views(reader.owner) if v in {r.view for r in plan.views}]
