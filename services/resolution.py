"""Resolve a feature service (or feature refs) into what both retrieval paths read.

Training sets and online reads start here, so they cannot disagree on which views,
features, join keys (their stored names, types and request columns), ttls, dtypes and
on-demand transforms a request means. Feature types come from the source's contract;
on-demand outputs from the on-demand view's Feast fields; the transforms are the
repository's own functions (:mod:`services.repository`). The resolved reads themselves are
plain values (:mod:`services.reads`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from services.contracts.schema import feature_specs, source_spec
from services.contracts.specs import ColumnSpec
from services.contracts.types import entity_key_type, from_feast
from services.errors import ContractError, InputError, UnknownFeatureError
from services.reads import KeyRead, OnDemandRead, ServicePlan, ViewRead
from services.repository import Repository
from services.store import Store

if TYPE_CHECKING:
    from feast import FeatureView, OnDemandFeatureView

__all__ = [
    "KeyRead",
    "OnDemandRead",
    "ServicePlan",
    "ViewRead",
    "plan_features",
    "plan_service",
    "plan_view",
    "view_keys",
]


def _pick(specs: tuple[ColumnSpec, ...], names: list[str], view: str) -> tuple[ColumnSpec, ...]:
    by_name = {s.name: s for s in specs}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise UnknownFeatureError(f"{view}:{missing[0]}", "feature not in the view")
    return tuple(by_name[n] for n in names)


def _repo(store: Store) -> Repository:
    return store.repository


def view_keys(store: Store, fv: FeatureView, join_key_map: dict[str, str]) -> tuple[KeyRead, ...]:
    """The join keys of a view, typed by its entities, with a projection's key map applied."""
    keys = []
    for name in fv.entities:
        entity = store.entities.get(name)
        if entity is None:
            raise UnknownFeatureError(fv.name, f"entity {name!r} is not registered")
        try:
            ktype = entity_key_type(entity, fv)
        except ContractError as exc:
            raise ContractError(f"entity {name!r}: {exc}") from None
        keys.append(
            KeyRead(entity.join_key, ktype, join_key_map.get(entity.join_key, entity.join_key))
        )
    return tuple(keys)


def applied_views(store: Store) -> list[str]:
    """The project's registered feature views, by name; none is bad input, not a clean audit.

    Materialize, parity and freshness over an empty registry used to print an empty table and
    exit 0, as if every verdict held.
    """
    views = sorted(store.feature_views)
    if not views:
        raise InputError(
            f"project {store.project!r} has no feature views applied: run `skewless apply` "
            "first (or check SKEWLESS_PROJECT and SKEWLESS_REGISTRY_URL)"
        )
    return views


def plan_view(
    store: Store, view: str, *, alias: str | None = None, join_key_map: dict[str, str] | None = None
) -> ViewRead:
    """A read of every feature of one batch feature view (materialization, audits)."""
    fv = store.feature_views.get(view)
    if fv is None:
        raise UnknownFeatureError(view, "feature view not registered")
    source = fv.batch_source.name if fv.batch_source is not None else fv.name
    contract = _repo(store).contract(source)
    spec = source_spec(contract)
    by_name = {s.name: s for s in feature_specs(contract)}
    names = [f.name for f in fv.features]
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ContractError(
            f"feature view {view!r}: fields {missing} are not in contract {source!r}"
        )
    return ViewRead(
        view=fv.name,
        alias=alias or fv.name,
        source=source,
        keys=view_keys(store, fv, join_key_map or {}),
        ttl=fv.ttl or timedelta(0),
        features=tuple(by_name[n] for n in names),
        event_ts=spec.event_timestamp,
        created_ts=spec.created_timestamp,
    )


def _field_spec(field: Any, tags: dict[str, str], role: str = "feature") -> ColumnSpec:
    own: dict[str, str] = dict(field.tags or {})
    prefix = f"field.{field.name}."
    return ColumnSpec(
        name=field.name,
        type=from_feast(field.dtype),
        nullable=True,
        description=tags.get(f"{prefix}description", field.description or ""),
        owner=tags.get(f"{prefix}owner") or own.get("owner") or "",
        role=role,  # type: ignore[arg-type]
        pii=(tags.get(f"{prefix}pii") or own.get("pii") or "").lower() == "true",
        classification=tags.get(f"{prefix}classification", own.get("classification")),
    )


def _request_specs(store: Store, odfv: OnDemandFeatureView) -> tuple[ColumnSpec, ...]:
    repo = _repo(store)
    out: list[ColumnSpec] = []
    for req in odfv.source_request_sources.values():
        contract = repo.contracts.get(req.name) or repo.contracts.get(
            (req.tags or {}).get("contract", "")
        )
        if contract is not None:
            out.extend(feature_specs(contract))
        else:
            out.extend(_field_spec(f, {}, "request") for f in req.schema)
    return tuple(out)


def _on_demand_read(store: Store, view: str, alias: str, names: list[str]) -> OnDemandRead:
    odfv = store.odfvs[view]
    code = _repo(store).on_demand.get(view)
    if code is None:
        raise UnknownFeatureError(view, "on-demand view is registered but not in the repository")
    outputs = tuple(_field_spec(f, odfv.tags or {}) for f in odfv.features)
    inputs = tuple(
        plan_view(store, p.name, alias=p.name_alias or p.name, join_key_map=dict(p.join_key_map))
        for p in odfv.source_feature_view_projections.values()
    )
    return OnDemandRead(
        view=odfv.name,
        alias=alias,
        code=code,
        inputs=inputs,
        request_fields=_request_specs(store, odfv),
        outputs=outputs,
        features=_pick(outputs, names, view),
    )


Group = tuple[str, str, list[str], dict[str, str]]  # view, alias, features, join key map


def _plan(
    store: Store,
    name: str,
    groups: list[Group],
    unknown: Callable[[str, list[str]], UnknownFeatureError],
) -> ServicePlan:
    """Resolve (view, alias, feature names, key map) groups into reads, in order."""
    views: list[ViewRead] = []
    on_demand: list[OnDemandRead] = []
    for view, alias, names, key_map in groups:
        if view in store.feature_views:
            full = plan_view(store, view, alias=alias, join_key_map=key_map)
            views.append(replace(full, features=_pick(full.features, names, alias)))
        elif view in store.odfvs:
            on_demand.append(_on_demand_read(store, view, alias, names))
        else:
            raise unknown(view, names)
    return ServicePlan(name=name, views=tuple(views), on_demand=tuple(on_demand))


def plan_service(store: Store, service: str) -> ServicePlan:
    """Resolve a registered feature service into view reads (raises if unknown)."""
    fs = store.feature_service(service)
    groups = [
        (p.name, p.name_alias or p.name, [f.name for f in p.features], dict(p.join_key_map))
        for p in fs.feature_view_projections
    ]
    return _plan(
        store,
        service,
        groups,
        lambda view, _: UnknownFeatureError(view, "feature view not registered"),
    )


def plan_features(store: Store, refs: list[str]) -> ServicePlan:
    """An ad-hoc plan for Feast-style ``view:feature`` references (no feature service)."""
    if not refs:
        raise UnknownFeatureError("", "no features requested")
    by_view: dict[str, list[str]] = {}
    for ref in refs:
        view, sep, feature = ref.partition(":")
        if not sep or not view or not feature:
            raise UnknownFeatureError(ref, "a feature reference must look like 'view:feature'")
        by_view.setdefault(view, []).append(feature)
    return _plan(
        store,
        "features",
        [(view, view, names, {}) for view, names in by_view.items()],
        lambda view, names: UnknownFeatureError(f"{view}:{names[0]}", "unknown feature view"),
    )
