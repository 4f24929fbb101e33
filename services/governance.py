"""The governance lint that ``skewless apply`` runs before Feast apply.

Refuses, one line per problem naming the object and field: any object or field without
an owner or description (a field's owner defaults to its object's), any PII-tagged field
without a classification, a field of a type Skewless cannot store, a batch source without
a contract, and a feature view, request source or on-demand view whose fields or join keys
disagree with the contract of its source. Contract columns are linted the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from feast import Entity, FeatureService, FeatureView, OnDemandFeatureView, RequestSource
from feast.data_source import DataSource

from services.contracts.base import SourceContract
from services.contracts.schema import column_specs, feature_specs, schema_fingerprint
from services.contracts.types import entity_key_type, from_feast
from services.errors import ContractError
from services.store import Definitions

Contracts = Mapping[str, type[SourceContract]]

_KIND = {
    Entity: "entity",
    OnDemandFeatureView: "on_demand_feature_view",
    FeatureView: "feature_view",
    FeatureService: "feature_service",
    RequestSource: "request_source",
    DataSource: "data_source",
}


def _kind(obj: Any) -> str:
    return next(kind for cls, kind in _KIND.items() if isinstance(obj, cls))


def _where(obj: Any) -> str:
    return f"{_kind(obj)} {obj.name!r}"


def _object_problems(obj: Any) -> Iterable[str]:
    if not (getattr(obj, "owner", "") or "").strip():
        yield f"{_where(obj)}: missing owner"
    if not (getattr(obj, "description", "") or "").strip():
        yield f"{_where(obj)}: missing description"


def _field_problems(where: str, name: str, desc: str, tags: dict[str, str]) -> Iterable[str]:
    if not desc.strip():
        yield f"{where} field {name!r}: missing description"
    if not tags.get("owner", "").strip():
        yield f"{where} field {name!r}: missing owner"
    if tags.get("pii", "").lower() == "true" and not tags.get("classification", "").strip():
        yield f"{where} field {name!r}: PII-tagged field without a classification"


def field_facts(obj: Any) -> list[tuple[str, str, dict[str, str]]]:
    """(name, description, tags) of each field, wherever the object keeps them."""
    owner = {"owner": obj.owner} if (getattr(obj, "owner", "") or "").strip() else {}
    if isinstance(obj, OnDemandFeatureView):
        tags = obj.tags or {}
        return [
            (
                f.name,
                tags.get(f"field.{f.name}.description", ""),
                {
                    **owner,
                    **{
                        k.rsplit(".", 1)[1]: v
                        for k, v in tags.items()
                        if k.startswith(f"field.{f.name}.")
                    },
                },
            )
            for f in obj.features
        ]
    fields = obj.features if isinstance(obj, FeatureView) else obj.schema
    return [(f.name, f.description or "", {**owner, **dict(f.tags or {})}) for f in fields]


def _type_problems(obj: Any) -> Iterable[str]:
    fields = obj.features if isinstance(obj, FeatureView | OnDemandFeatureView) else obj.schema
    for f in fields:
        try:
            from_feast(f.dtype)
        except ContractError as exc:
            yield f"{_where(obj)} field {f.name!r}: {exc}"


def _view_contract_problems(
    fv: FeatureView, contracts: Contracts, entities: Mapping[str, Entity]
) -> Iterable[str]:
    source = fv.batch_source.name if fv.batch_source is not None else ""
    contract = contracts.get(source)
    if contract is None:
        yield (
            f"{_where(fv)}: source {source!r} has no contract "
            "(run `skewless contracts infer`, or define a SourceContract with that name)"
        )
        return
    fingerprint = (fv.tags or {}).get("schema")
    if fingerprint is not None and fingerprint != schema_fingerprint(contract):
        yield f"{_where(fv)}: schema fingerprint does not match contract {source!r}"
    columns = {c.name: c for c in column_specs(contract)}
    features = {c.name: c for c in feature_specs(contract)}
    for f in fv.features:
        spec = features.get(f.name)
        if spec is None:
            yield f"{_where(fv)} field {f.name!r}: not a feature of contract {source!r}"
        elif (found := _safe_type(f.dtype)) is not None and str(found) != str(spec.type):
            yield (
                f"{_where(fv)} field {f.name!r}: {f.dtype} in Feast but {spec.type} in "
                f"contract {source!r}"
            )
    for name in fv.entities:
        entity = entities.get(name)
        if entity is None:
            continue
        key = columns.get(entity.join_key)
        if key is None or key.role != "entity":
            yield (
                f"{_where(fv)}: join key {entity.join_key!r} is not an entity column of "
                f"contract {source!r}"
            )
            continue
        try:
            declared = entity_key_type(entity, fv)
        except ContractError as exc:
            yield f"entity {name!r}: {exc}"
            continue
        if declared != key.type:
            yield (
                f"entity {name!r}: join key {entity.join_key!r} is {declared} but "
                f"{key.type} in contract {source!r}"
            )


def _safe_type(dtype: Any) -> Any:
    try:
        return from_feast(dtype)
    except ContractError:
        return None


def _request_contract_problems(req: RequestSource, contracts: Contracts) -> Iterable[str]:
    contract = contracts.get(req.name) or contracts.get((req.tags or {}).get("contract", ""))
    if contract is None:
        return
    want = [(c.name, c.type) for c in feature_specs(contract)]
    have = [(f.name, _safe_type(f.dtype)) for f in req.schema]
    if sorted(want, key=str) != sorted(have, key=str):
        yield f"{_where(req)}: fields {[n for n, _ in have]} differ from its contract"


def _contract_problems(contract: type[SourceContract]) -> Iterable[str]:
    name = getattr(contract.Config, "name", contract.__name__)
    where = f"contract {name!r}"
    try:
        specs = column_specs(contract)
    except ContractError as exc:
        yield str(exc)
        return
    meta = dict(getattr(contract.Config, "metadata", None) or {})
    if not str(meta.get("owner", "")).strip():
        yield f"{where}: missing owner"
    if not str(getattr(contract.Config, "description", "") or "").strip():
        yield f"{where}: missing description"
    for spec in specs:
        tags = {"owner": spec.owner, "pii": "true" if spec.pii else ""}
        tags["classification"] = spec.classification or ""
        yield from _field_problems(where, spec.name, spec.description, tags)


def lint(definitions: Definitions, contracts: Contracts | None = None) -> list[str]:
    """Return one line per governance problem; an empty list means the repo may be applied."""
    contracts = contracts or {}
    entities = {e.name: e for e in definitions.entities}
    problems: list[str] = []
    for obj in definitions.all():
        problems.extend(_object_problems(obj))
        if isinstance(obj, FeatureView | OnDemandFeatureView | RequestSource):
            for name, desc, tags in field_facts(obj):
                problems.extend(_field_problems(_where(obj), name, desc, tags))
            problems.extend(_type_problems(obj))
        if isinstance(obj, FeatureView) and not isinstance(obj, OnDemandFeatureView):
            problems.extend(_view_contract_problems(obj, contracts, entities))
        elif isinstance(obj, RequestSource):
            problems.extend(_request_contract_problems(obj, contracts))
    for contract in contracts.values():
        problems.extend(_contract_problems(contract))
    return problems
