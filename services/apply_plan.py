"""What an apply removes: registered objects the repository no longer declares.

``skewless apply`` registers the whole repository (``partial=False``), and, as ``feast apply``
does, deletes what the registry holds that the repository dropped: a removed feature service
stops being served, a renamed view leaves no stale twin that ``materialize`` keeps writing, and
Feast tears down the online table of a deleted view. Objects are matched by kind and name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from feast import Entity, FeatureService, FeatureView, OnDemandFeatureView
from feast.data_source import DataSource

if TYPE_CHECKING:
    from feast import FeatureStore

    from services.store import Definitions

# Kinds in the order they are named to the user; a subclass counts as its listed kind.
KINDS: tuple[tuple[str, type], ...] = (
    ("feature service", FeatureService),
    ("on-demand view", OnDemandFeatureView),
    ("feature view", FeatureView),
    ("entity", Entity),
    ("data source", DataSource),
)


def kind_of(obj: Any) -> str:
    """The kind ``obj`` is registered as (``feature view``, ``entity``, ...)."""
    for name, cls in KINDS:
        if isinstance(obj, cls):
            return name
    return type(obj).__name__


def _declared(definitions: Definitions) -> set[tuple[str, str]]:
    """Every (kind, name) an apply of ``definitions`` registers, the sources Feast adds too."""
    objects: list[Any] = definitions.all()
    for view in definitions.feature_views:  # Feast registers a view's sources with it
        objects += [s for s in (view.batch_source, view.stream_source) if s is not None]
    for odfv in definitions.on_demand_feature_views:
        objects += list(odfv.source_request_sources.values())
    for source in list(objects):
        batch = getattr(source, "batch_source", None)  # a push source's offline side
        if isinstance(source, DataSource) and isinstance(batch, DataSource):
            objects.append(batch)
    return {(kind_of(obj), obj.name) for obj in objects}


def stale_objects(store: FeatureStore, definitions: Definitions) -> list[Any]:
    """Registered objects of the store's project that ``definitions`` no longer declares.

    Dependents come first (services, then views, entities and sources), the order in which
    Feast can delete them.
    """
    registered: list[Any] = [
        *store.list_feature_services(),
        *store.list_on_demand_feature_views(),
        *store.list_feature_views(),
        *store.list_entities(),
        *store.list_data_sources(),
    ]
    declared = _declared(definitions)
    return [obj for obj in registered if (kind_of(obj), obj.name) not in declared]
