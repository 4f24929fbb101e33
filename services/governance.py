"""The governance lint that ``skewless apply`` runs before Feast apply.

Refuses, one line per problem naming the object and field: any object or field
without an owner or description, any PII-tagged field without a classification,
and any feature view, request source or on-demand view whose schema is not the
one generated from its contract.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from feast import Entity, FeatureService, FeatureView, OnDemandFeatureView, RequestSource
from feast.data_source import DataSource

from services.contracts import ALL_CONTRACTS
from services.contracts.schema import feast_fields, odfv_fields_and_tags, schema_fingerprint
from services.store import Definitions

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


def _object_problems(obj: Any) -> Iterable[str]:
    where = f"{_kind(obj)} {obj.name!r}"
    if not (getattr(obj, "owner", "") or "").strip():
        yield f"{where}: missing owner"
    if not (getattr(obj, "description", "") or "").strip():
        yield f"{where}: missing description"


def _field_problems(where: str, name: str, desc: str, tags: dict[str, str]) -> Iterable[str]:
    if not desc.strip():
        yield f"{where} field {name!r}: missing description"
    if not tags.get("owner", "").strip():
        yield f"{where} field {name!r}: missing owner"
    if tags.get("pii", "").lower() == "true" and not tags.get("classification", "").strip():
        yield f"{where} field {name!r}: PII-tagged field without a classification"


def _view_fields(obj: Any) -> list[tuple[str, str, dict[str, str]]]:
    """(name, description, tags) of each field, wherever the object keeps them."""
    if isinstance(obj, OnDemandFeatureView):
        tags = obj.tags or {}
        return [
            (
                f.name,
                tags.get(f"field.{f.name}.description", ""),
                {
                    k.rsplit(".", 1)[1]: v
                    for k, v in tags.items()
                    if k.startswith(f"field.{f.name}.")
                },
            )
            for f in obj.features
        ]
    fields = obj.features if isinstance(obj, FeatureView) else obj.schema
    return [(f.name, f.description or "", dict(f.tags or {})) for f in fields]


def _contract_problems(obj: Any) -> Iterable[str]:
    where = f"{_kind(obj)} {obj.name!r}"
    name = (obj.tags or {}).get("contract")
    contract = ALL_CONTRACTS.get(name or "")
    if contract is None:
        yield f"{where}: schema is not generated from a contract (no known 'contract' tag)"
        return
    if (obj.tags or {}).get("schema") != schema_fingerprint(contract):
        yield f"{where}: schema fingerprint does not match contract {name!r}"
    if isinstance(obj, OnDemandFeatureView):
        expected = odfv_fields_and_tags(contract)[0]
        actual = list(obj.features)
    else:
        expected = feast_fields(contract)
        actual = list(obj.features if isinstance(obj, FeatureView) else obj.schema)
    want = [(f.name, f.dtype) for f in expected]
    have = [(f.name, f.dtype) for f in actual]
    if want != have:
        names = [n for n, _ in have]
        yield f"{where}: fields {names} differ from contract {name!r} {[n for n, _ in want]}"


def lint(definitions: Definitions) -> list[str]:
    """Return one line per governance problem; an empty list means the repo may be applied."""
    problems: list[str] = []
    for obj in definitions.all():
        problems.extend(_object_problems(obj))
        if isinstance(obj, FeatureView | OnDemandFeatureView | RequestSource):
            where = f"{_kind(obj)} {obj.name!r}"
            for name, desc, tags in _view_fields(obj):
                problems.extend(_field_problems(where, name, desc, tags))
            problems.extend(_contract_problems(obj))
    return problems
