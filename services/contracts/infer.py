"""Contracts inferred for an existing Feast repository (``skewless contracts infer``).

Owns the path from a repository's Feast definitions, plus an optional sample file per
source, to one generated ``<source>_contract.py`` module per source: a batch source that
a feature view reads gets its join keys, timestamps and the union of its views' features;
a request source gets its fields. Types come from Feast (``services.contracts.types``);
nullability and ranges from the sample (:mod:`services.contracts.infer_sample`);
descriptions and owners from Feast objects, or left blank for ``skewless apply`` to name.
The module text is rendered by :mod:`services.contracts.infer_code` and is deterministic,
so a second run on the same inputs changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from feast import FeatureView, RequestSource

from services.contracts.base import Role
from services.contracts.infer_code import InferredColumn, InferredSource, render_module
from services.contracts.infer_sample import arrow_field_type, observe_sample, read_sample
from services.contracts.types import INT32, INT64, STRING, FieldType, entity_key_type, from_feast
from services.errors import ContractError, InputError
from services.repository import contract_files
from services.store import load_definitions

EVENT_DESCRIPTION = "When the facts in this row became true (event time, UTC)."
CREATED_DESCRIPTION = (
    "When this row was computed; breaks ties and hides backfills from the past (UTC)."
)
_DUMMY_ENTITY = "__dummy"


@dataclass(frozen=True)
class Inferred:
    """What ``infer_contracts`` did: modules written (or already identical), sources left be."""

    written: list[Path]
    kept: dict[str, Path]  # source -> the repository's module that already holds its contract


def infer_contracts(
    repo_path: Path, sample_dir: Path, *, owner: str | None, overwrite: bool = False
) -> Inferred:
    """Write one ``<source>_contract.py`` per source of a Feast repository.

    A source whose contract the repository already holds in another module is left to it: a
    second contract for one source would be refused when the repository loads.

    Args:
        repo_path: the Feast repository (its ``*.py`` files are imported).
        sample_dir: where ``<source name>.parquet`` or ``.csv`` samples are looked up; a
            source without one gets a contract from its Feast types alone.
        owner: the team to name where neither the Feast field nor its view names one.
        overwrite: replace an existing contract module whose text differs.

    Returns:
        The contract modules, in source order (written, or already identical), and the
        sources kept with the module that holds their contract.

    Raises:
        InputError: a missing directory, an unreadable sample, a type Skewless cannot
            store, or an existing module that differs (without ``overwrite``).
        ContractError: two views reading one source disagree on a field's type.

    """
    for what, path in (("repository", repo_path), ("sample directory", sample_dir)):
        if not path.is_dir():
            raise InputError(f"{path}: {what} not found (not a directory)")
    definitions = load_definitions(repo_path)
    sources = [
        *_batch_sources(definitions, owner or "", sample_dir).values(),
        *_request_sources(definitions, owner or "").values(),
    ]
    if not sources:
        raise InputError(f"{repo_path}: no feature view or request source to infer a contract for")
    existing = contract_files(repo_path)
    modules: dict[Path, str] = {}
    kept: dict[str, Path] = {}
    for source in sources:
        target = repo_path / f"{_module_stem(source.name)}_contract.py"
        elsewhere = existing.get(source.name)
        if elsewhere is not None and elsewhere != target.resolve():
            kept[source.name] = elsewhere
            continue
        observe_sample(source, sample_dir)
        modules[target] = render_module(source)
    _write_modules(modules, overwrite=overwrite)
    return Inferred(list(modules), kept)


def _module_stem(name: str) -> str:
    """The file-name stem for a source name (letters, digits and underscores only)."""
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)


def _write_modules(modules: dict[Path, str], *, overwrite: bool) -> None:
    # Check every target first: nothing is written when one of them is refused.
    for path, text in modules.items():
        if path.exists() and path.read_text(encoding="utf-8") != text and not overwrite:
            raise InputError(
                f"{path}: exists and differs from the inferred contract; pass --overwrite"
            )
    for path, text in modules.items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)


# --- Feast definitions -> columns ------------------------------------------------------


def _feast_type(where: str, name: str, dtype: Any) -> FieldType:
    try:
        return from_feast(dtype)
    except ContractError as exc:
        raise InputError(f"{where} field {name!r}: {exc}") from None


def _field_owner(tags: dict[str, str] | None, *fallbacks: str) -> str:
    return next((o for o in ((tags or {}).get("owner", ""), *fallbacks) if o), "")


def _feature_column(view: Any, fld: Any, role: Role, *fallback_owners: str) -> InferredColumn:
    tags = dict(fld.tags or {})
    where = f"{'request source' if role == 'request' else 'view'} {view.name!r}"
    return InferredColumn(
        name=fld.name,
        type=_feast_type(where, fld.name, fld.dtype),
        role=role,
        description=fld.description or "",
        owner=_field_owner(tags, *fallback_owners),
        pii=tags.get("pii", "").strip().lower() in ("true", "1", "yes"),
        classification=tags.get("classification", ""),
        origin=view.name,
    )


def _merge(bucket: dict[str, InferredColumn], column: InferredColumn, source: str) -> None:
    known = bucket.get(column.name)
    if known is None:
        bucket[column.name] = column
    elif known.type != column.type:
        raise ContractError(
            f"source {source!r} column {column.name!r}: view {known.origin!r} declares "
            f"{known.type} but view {column.origin!r} declares {column.type}"
        )


def _join_keys(entity: Any) -> list[str]:
    # Feast 0.67 has one join key per entity; later versions name several.
    keys = getattr(entity, "join_keys", None) or [entity.join_key]
    return [str(k) for k in keys]


def _key_type(view: FeatureView, entity: Any, key: str, sample_dir: Path) -> FieldType:
    """The key's type as Feast settles it; for an untyped entity, else from the sample.

    Feast infers an untyped entity's key from the source's data at apply; the sample is that
    data here.
    """
    try:
        return entity_key_type(entity, view)
    except ContractError as exc:
        reason = str(exc)
    if entity.value_type.name == "UNKNOWN" and view.batch_source is not None:
        source = view.batch_source.name
        sample = read_sample(sample_dir, source)
        if sample is None or key not in sample[0].column_names:
            reason += f", and no sample of source {source!r} holds it"
        else:
            found = arrow_field_type(source, key, sample[0].schema.field(key).type)
            if found in (INT32, INT64, STRING):
                return found
            reason = f"join key type {found} in the sample is not supported (Int32, Int64, String)"
    raise InputError(f"view {view.name!r} join key {key!r}: {reason}")


def _add_keys(
    source: InferredSource,
    view: FeatureView,
    entities: dict[str, Any],
    owner: str,
    sample_dir: Path,
) -> None:
    for entity_name in view.entities:
        if entity_name == _DUMMY_ENTITY:
            continue
        entity = entities.get(entity_name)
        if entity is None:
            raise InputError(f"view {view.name!r}: entity {entity_name!r} is not defined")
        for key in _join_keys(entity):
            column = InferredColumn(
                name=key,
                type=_key_type(view, entity, key, sample_dir),
                role="entity",
                description=entity.description or "",
                owner=_field_owner(None, entity.owner, view.owner, owner),
                origin=view.name,
            )
            _merge(source.keys, column, source.name)


def _timestamps(data: Any, owner: str) -> list[InferredColumn]:
    if not data.timestamp_field:
        raise InputError(f"source {data.name!r}: no timestamp_field; name it in the definitions")
    columns = [InferredColumn(data.timestamp_field, FieldType("UnixTimestamp"), "event_timestamp")]
    columns[0].description = EVENT_DESCRIPTION
    if data.created_timestamp_column:
        created = InferredColumn(
            data.created_timestamp_column, FieldType("UnixTimestamp"), "created_timestamp"
        )
        created.description = CREATED_DESCRIPTION
        columns.append(created)
    for column in columns:
        column.owner = owner
    return columns


def _batch_sources(definitions: Any, owner: str, sample_dir: Path) -> dict[str, InferredSource]:
    """The batch sources that feature views read, keyed by name, with their columns."""
    entities = {e.name: e for e in definitions.entities}
    sources: dict[str, InferredSource] = {}
    for view in definitions.feature_views:
        data = view.batch_source
        if data is None:
            continue
        if not data.name:
            raise InputError(f"view {view.name!r}: its data source has no name")
        source = sources.get(data.name)
        if source is None:
            source_owner = data.owner or view.owner or owner
            source = sources[data.name] = InferredSource(
                name=data.name,
                request=False,
                description=data.description or view.description or "",
                owner=source_owner,
                timestamps=_timestamps(data, source_owner),
            )
        source.readers.append(view.name)
        source.ttls.add(view.ttl or timedelta(0))
        _add_keys(source, view, entities, owner, sample_dir)
        for fld in view.features:
            if fld.name not in source.keys:
                column = _feature_column(view, fld, "feature", view.owner, owner)
                _merge(source.features, column, source.name)
    return sources


def _request_sources(definitions: Any, owner: str) -> dict[str, InferredSource]:
    """The request sources of the repository, keyed by name, with their fields."""
    readers: dict[str, tuple[RequestSource, list[Any]]] = {}
    for data in definitions.data_sources:
        if isinstance(data, RequestSource):
            readers.setdefault(data.name, (data, []))
    for odfv in definitions.on_demand_feature_views:
        for data in odfv.sources:  # public list: Feast's internal input-schema source is not in it
            if isinstance(data, RequestSource):
                readers.setdefault(data.name, (data, []))[1].append(odfv)
    sources: dict[str, InferredSource] = {}
    for name, (data, odfvs) in readers.items():
        first = odfvs[0] if odfvs else None
        source_owner = data.owner or (first.owner if first else "") or owner
        source = InferredSource(
            name=name,
            request=True,
            description=data.description or (first.description if first else "") or "",
            owner=source_owner,
            readers=[o.name for o in odfvs],
        )
        for fld in data.schema:
            column = _feature_column(data, fld, "request", source_owner)
            _merge(source.features, column, name)
        sources[name] = source
    return sources
