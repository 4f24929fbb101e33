"""Definition versions as lineage names them: a hash of each Feast object's spec.

A view's, an on-demand view's and a feature service's version cover what they read, so a change
to an upstream view gives everything reading it a new version (what it serves has changed).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from feast import FeatureService, FeatureView, OnDemandFeatureView
from feast.data_source import DataSource

from services.store import Store


def definition_hash(obj: FeatureView | OnDemandFeatureView | FeatureService | DataSource) -> str:
    """A stable hash of a Feast object's definition (its spec; an on-demand view's UDF by source).

    The pickled UDF body differs between processes for the same code, so it is left out and
    the UDF's source text stands for it. Registry bookkeeping (created/updated times) is left out.
    """
    proto = obj.to_proto()
    spec = proto if isinstance(obj, DataSource) else proto.spec
    if isinstance(obj, OnDemandFeatureView):
        spec.user_defined_function.ClearField("body")
        spec.feature_transformation.user_defined_function.ClearField("body")
    _clear_meta(spec)
    return hashlib.sha256(spec.SerializeToString(deterministic=True)).hexdigest()[:16]


def _closure_hash(own: str, upstream: list[tuple[str, str]]) -> str:
    text = json.dumps([own, sorted(upstream)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def view_version(store: Store, name: str) -> str:
    """The definition version of a registered view, as lineage names it.

    A batch view's spec already holds its data source, so its version is its definition hash.
    An on-demand view's spec names its source views but not their definitions, so its version
    also covers the versions of the views it reads: a change to one gives it a new version.
    """
    if name in store.feature_views:
        return definition_hash(store.feature_views[name])
    odfv = store.odfvs[name]
    upstream = [
        (p.name, view_version(store, p.name)) for p in odfv.source_feature_view_projections.values()
    ]
    return _closure_hash(definition_hash(odfv), upstream)


def service_version(store: Store, name: str) -> str:
    """The definition version of a feature service: its spec and the versions of its views.

    A feature service's spec only names the views and features it selects, so a change to one of
    those views gives the service a new version too (what it serves has changed).
    """
    fs = store.feature_service(name)
    upstream = [(p.name, view_version(store, p.name)) for p in fs.feature_view_projections]
    return _closure_hash(definition_hash(fs), upstream)


def _clear_meta(message: Any) -> None:
    """Drop registry bookkeeping (``meta``: created/updated times) from nested protos."""
    for descriptor, value in message.ListFields():
        if descriptor.name == "meta" and descriptor.message_type is not None:
            message.ClearField("meta")
        elif descriptor.message_type is not None:
            if hasattr(value, "ListFields"):
                _clear_meta(value)
            else:  # a repeated field or a map of messages
                items = value.values() if hasattr(value, "values") else value
                for item in items:
                    if hasattr(item, "ListFields"):
                        _clear_meta(item)
