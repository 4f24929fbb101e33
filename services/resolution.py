"""Resolve a feature service (or feature refs) into what both retrieval paths read.

Training sets and online reads start here, so they cannot disagree on which views,
features, join keys (their stored names, types and request columns), ttls, dtypes and
on-demand transforms a request means. Feature types come from the source's contract;
on-demand outputs from the on-demand view's Feast fields; the transforms are the
repository's own functions (:mod:`services.repository`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from feast import FeatureView, OnDemandFeatureView

from services.contracts.base import ColumnSpec, SourceContract
from services.contracts.schema import feature_specs, source_spec
from services.contracts.types import FieldType, from_feast, from_value_type
from services.errors import ContractError, RequestError, UnknownFeatureError
from services.repository import OnDemandCode, Repository
from services.store import Store


@dataclass(frozen=True)
class KeyRead:
    """One join key of a view: its stored name and type, and its column in requests."""

    name: str
    type: FieldType
    column: str


@dataclass(frozen=True)
class ViewRead:
    """The features one request reads from one batch feature view (one projection of it)."""

    view: str
    alias: str
    source: str
    contract: type[SourceContract]
    keys: tuple[KeyRead, ...]
    ttl: timedelta
    features: tuple[ColumnSpec, ...]
    event_ts: str = "event_timestamp"
    created_ts: str | None = "created_timestamp"

    @property
    def key_columns(self) -> tuple[tuple[str, FieldType], ...]:
        """The stored join keys (name, type) in the view's order: what online keys encode."""
        return tuple((k.name, k.type) for k in self.keys)

    @property
    def request_columns(self) -> tuple[str, ...]:
        return tuple(k.column for k in self.keys)


@dataclass(frozen=True)
class OnDemandRead:
    """An on-demand view: its code, what it reads, and the outputs the request uses."""

    view: str
    alias: str
    code: OnDemandCode
    inputs: tuple[ViewRead, ...]
    request_fields: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...]
    features: tuple[ColumnSpec, ...]


@dataclass(frozen=True)
class ServicePlan:
    name: str
    views: tuple[ViewRead, ...]
    on_demand: tuple[OnDemandRead, ...]

    @property
    def fetch(self) -> tuple[ViewRead, ...]:
        """Every view read: the requested ones, then what on-demand views need."""
        return self.views + tuple(r for o in self.on_demand for r in o.inputs)

    @property
    def key_types(self) -> dict[str, FieldType]:
        """Each request key column and its type, in sorted order."""
        out: dict[str, FieldType] = {}
        for read in self.fetch:
            for key in read.keys:
                known = out.setdefault(key.column, key.type)
                if known != key.type:
                    raise RequestError(
                        f"join key {key.column!r} is {known} in one view and {key.type} in "
                        f"{read.view!r}"
                    )
        return dict(sorted(out.items()))

    @property
    def join_keys(self) -> list[str]:
        return list(self.key_types)

    @property
    def request_fields(self) -> list[ColumnSpec]:
        seen: dict[str, ColumnSpec] = {}
        for odfv in self.on_demand:
            for spec in odfv.request_fields:
                seen.setdefault(spec.name, spec)
        return list(seen.values())

    @property
    def feature_refs(self) -> list[str]:
        """Feast-style ``view:feature`` references (projection names), in service order."""
        refs = [f"{v.alias}:{f.name}" for v in self.views for f in v.features]
        refs += [f"{o.alias}:{f.name}" for o in self.on_demand for f in o.features]
        return refs

    @property
    def output_specs(self) -> list[ColumnSpec]:
        return [f for v in self.views for f in v.features] + [
            f for o in self.on_demand for f in o.features
        ]

    def output_names(self, full: bool = False) -> list[str]:
        """Column names of the answer's features; ``full`` gives ``view__feature`` names."""
        if full:
            return [ref.replace(":", "__") for ref in self.feature_refs]
        names = [f.name for f in self.output_specs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise RequestError(
                f"feature names {dupes} appear in several views; ask for full feature names"
            )
        return names


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
            ktype = from_value_type(entity.value_type)
        except ContractError as exc:
            raise ContractError(f"entity {name!r}: {exc}") from None
        keys.append(
            KeyRead(entity.join_key, ktype, join_key_map.get(entity.join_key, entity.join_key))
        )
    return tuple(keys)


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
        contract=contract,
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
