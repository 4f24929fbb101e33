"""Resolve a feature service into what both retrieval paths read.

Training sets and online reads start here, so they cannot disagree on which
views, features, join keys, ttls, dtypes and on-demand transforms a service means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from services.contracts import ALL_CONTRACTS, SourceContract
from services.contracts.base import ColumnSpec
from services.contracts.schema import column_specs, feature_specs
from services.contracts.transforms import transaction_risk
from services.errors import UnknownFeatureError
from services.store import Store, load_definitions

# The shared on-demand functions, by view name: the same callables Feast's views wrap.
TRANSFORMS: dict[str, Callable[[Any], Mapping[str, Any]]] = {
    "transaction_risk": transaction_risk,
}


@dataclass(frozen=True)
class ViewRead:
    """The features one service reads from one batch feature view."""

    view: str
    source: str
    contract: type[SourceContract]
    join_key: str
    ttl: timedelta
    features: tuple[ColumnSpec, ...]


@dataclass(frozen=True)
class OnDemandRead:
    """An on-demand view: its transform, inputs and the output columns the service uses."""

    view: str
    transform: Callable[[Any], Mapping[str, Any]]
    request_fields: tuple[ColumnSpec, ...]
    features: tuple[ColumnSpec, ...]


@dataclass(frozen=True)
class ServicePlan:
    name: str
    views: tuple[ViewRead, ...]
    on_demand: tuple[OnDemandRead, ...]

    @property
    def join_keys(self) -> list[str]:
        return sorted({v.join_key for v in self.views})

    @property
    def request_fields(self) -> list[ColumnSpec]:
        seen: dict[str, ColumnSpec] = {}
        for odfv in self.on_demand:
            for spec in odfv.request_fields:
                seen.setdefault(spec.name, spec)
        return list(seen.values())

    @property
    def feature_refs(self) -> list[str]:
        """Feast-style ``view:feature`` references, in service order."""
        refs = [f"{v.view}:{f.name}" for v in self.views for f in v.features]
        refs += [f"{o.view}:{f.name}" for o in self.on_demand for f in o.features]
        return refs

    @property
    def output_specs(self) -> list[ColumnSpec]:
        return [f for v in self.views for f in v.features] + [
            f for o in self.on_demand for f in o.features
        ]


def contract_of(store: Store, name: str) -> type[SourceContract]:
    """The contract a registered object names; imports the repo once if it defines its own.

    A repository may register contracts of its own (``register_contract``) when its
    definitions are imported; a process that only reads the registry (the feature server,
    a CLI command) has not imported them yet.
    """
    if name not in ALL_CONTRACTS:
        load_definitions(store.settings.repo_path)
    try:
        return ALL_CONTRACTS[name]
    except KeyError:
        raise UnknownFeatureError(name, "no contract of that name is registered") from None


def _pick(specs: tuple[ColumnSpec, ...], names: list[str], view: str) -> tuple[ColumnSpec, ...]:
    by_name = {s.name: s for s in specs}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise UnknownFeatureError(f"{view}:{missing[0]}", "feature not in the contract")
    return tuple(by_name[n] for n in names)


def _on_demand_read(store: Store, view: str, names: list[str]) -> OnDemandRead:
    odfv = store.odfvs[view]
    request_specs = tuple(
        spec
        for req in odfv.source_request_sources.values()
        for spec in feature_specs(contract_of(store, req.tags["contract"]))
    )
    contract = contract_of(store, odfv.tags["contract"])
    return OnDemandRead(
        view=odfv.name,
        transform=TRANSFORMS[odfv.name],
        request_fields=request_specs,
        features=_pick(feature_specs(contract), names, view),
    )


def _plan(
    store: Store,
    name: str,
    groups: list[tuple[str, list[str]]],
    unknown: Callable[[str, list[str]], UnknownFeatureError],
) -> ServicePlan:
    """Resolve (view, feature names) groups into batch and on-demand reads, in order."""
    views: list[ViewRead] = []
    on_demand: list[OnDemandRead] = []
    for view, names in groups:
        if view in store.feature_views:
            full = plan_view(store, view)
            views.append(replace(full, features=_pick(full.features, names, view)))
        elif view in store.odfvs:
            on_demand.append(_on_demand_read(store, view, names))
        else:
            raise unknown(view, names)
    return ServicePlan(name=name, views=tuple(views), on_demand=tuple(on_demand))


def plan_service(store: Store, service: str) -> ServicePlan:
    """Resolve a registered feature service into view reads (raises if unknown)."""
    fs = store.feature_service(service)
    groups = [(p.name, [f.name for f in p.features]) for p in fs.feature_view_projections]
    return _plan(
        store,
        service,
        groups,
        lambda view, _: UnknownFeatureError(view, "feature view not registered"),
    )


def plan_view(store: Store, view: str) -> ViewRead:
    """A read of every feature of one batch feature view (materialization, audits)."""
    fv = store.feature_views.get(view)
    if fv is None:
        raise UnknownFeatureError(view, "feature view not registered")
    contract = contract_of(store, fv.tags["contract"])
    join_key = next(c.name for c in column_specs(contract) if c.role == "entity")
    return ViewRead(
        view=fv.name,
        source=fv.batch_source.name if fv.batch_source else fv.name,
        contract=contract,
        join_key=join_key,
        ttl=fv.ttl or timedelta(0),
        features=feature_specs(contract),
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
        list(by_view.items()),
        lambda view, names: UnknownFeatureError(f"{view}:{names[0]}", "unknown feature view"),
    )
