"""A user's feature repository as the platform sees it: Feast objects, contracts, transforms.

Nothing about a repository is registered in the platform. Its Python files are imported
from ``--repo`` / ``SKEWLESS_REPO_PATH``; its contracts are the ``SourceContract``
subclasses those files define (one per source, by ``Config.name``), and its on-demand
transforms are the functions its own ``OnDemandFeatureView`` objects wrap, so training
sets and serving run the repository's code, not a copy of it.
"""

from __future__ import annotations

import inspect
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from feast import OnDemandFeatureView, PushSource

from services.contracts.base import SourceContract
from services.contracts.schema import column_specs, contract_name
from services.errors import ContractError, UnknownSourceError
from services.reads import OnDemandCode
from services.repo_files import watched_files
from services.store import Definitions, load_repo_objects


@dataclass
class Repository:
    """What one repository declares (loaded once per path and file state)."""

    path: Path
    definitions: Definitions
    contracts: dict[str, type[SourceContract]] = field(default_factory=dict)
    on_demand: dict[str, OnDemandCode] = field(default_factory=dict)
    demo: dict[str, Any] | None = None
    modules: dict[str, ModuleType] = field(default_factory=dict)

    def contract(self, source: str) -> type[SourceContract]:
        """The contract of a source, or ``UnknownSourceError`` listing the known ones."""
        try:
            return self.contracts[source]
        except KeyError:
            raise UnknownSourceError(source, sorted(self.batch_sources())) from None
        if source not in self.batch_sources():
            raise UnknownSourceError(source, sorted(self.batch_sources()))

    def source_named(self, name: str) -> str:
        """The source ``name`` writes to: itself, or the batch source of a Feast push source.

        Feast's clients push to a ``PushSource`` by its name; its rows land in the batch source
        it wraps, which is what holds the contract here.
        """
        if name in self.contracts:
            return name
        for source in self.definitions.data_sources:
            batch = getattr(source, "batch_source", None)
            if isinstance(source, PushSource) and source.name == name and batch is not None:
                return str(batch.name)
        return name

    def batch_sources(self) -> list[str]:
        """Sources that take batches: contracts with an event timestamp column."""
        return [
            name
            for name, c in self.contracts.items()
            if any(s.role == "event_timestamp" for s in column_specs(c))
        ]


def on_demand_code(odfv: OnDemandFeatureView) -> OnDemandCode:
    """The function an on-demand view wraps (Feast keeps it on its transformation)."""
    transformation = odfv.feature_transformation
    function = getattr(transformation, "udf", None)
    if function is None:  # pragma: no cover - Feast always sets one for pandas/python modes
        raise UnknownSourceError(odfv.name, [])
    return OnDemandCode(
        function=function, mode=str(odfv.mode), singleton=bool(getattr(odfv, "singleton", False))
    )


def _add_contract(
    contracts: dict[str, type[SourceContract]], contract: type[SourceContract]
) -> None:
    """Register ``contract`` for its source; a second, different class for it is refused.

    The same class imported into another module is one contract. Two would leave the one that
    guards ingestion to the order files are read in (``skewless contracts infer`` beside a
    hand-written module did just that).
    """
    name = contract_name(contract)
    known = contracts.setdefault(name, contract)
    if known is not contract:
        first, second = sorted(f"{c.__module__}.{c.__qualname__}" for c in (known, contract))
        raise ContractError(f"source {name!r} has two contracts, {first} and {second}: keep one")


def _collect(path: Path) -> Repository:
    definitions, modules = load_repo_objects(path)
    repo = Repository(path=path, definitions=definitions)
    for module in modules:
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, SourceContract)
                and value is not SourceContract
                and getattr(value.Config, "name", None)
            ):
                _add_contract(repo.contracts, value)
        repo.modules[module.__name__] = module
        plan = getattr(module, "DEMO", None)
        if isinstance(plan, dict) and repo.demo is None:
            repo.demo = plan
    for odfv in definitions.on_demand_feature_views:
        repo.on_demand[odfv.name] = on_demand_code(odfv)
    type_keys_from_contracts(repo.definitions, repo.contracts)
    return repo


def type_keys_from_contracts(
    definitions: Definitions, contracts: dict[str, type[SourceContract]]
) -> None:
    """Give each view the type of a join key its entity leaves untyped, from its contract.

    An entity declared without ``value_type`` (``feast init``'s template has one) leaves the
    key's type to Feast, which infers it from the source's data at apply. Here the source's
    contract says it: the view gets that entity column, which Feast keeps as declared, so the
    registry, the online keys and the contract agree. A view whose contract lacks the column
    is left alone (``skewless apply`` names the missing column). Idempotent: the repository
    does it when loaded, ``Store.apply`` again for definitions loaded otherwise.
    """
    from feast import Field

    entities = {e.name: e for e in definitions.entities}
    for view in definitions.feature_views:
        contract = contracts.get(view.batch_source.name if view.batch_source else "")
        if contract is None:
            continue
        keys = {c.name: c for c in column_specs(contract) if c.role == "entity"}
        for name in view.entities:
            entity = entities.get(name)
            if entity is None or entity.value_type.name != "UNKNOWN":
                continue
            declared = {c.name for c in view.entity_columns}
            spec = keys.get(entity.join_key)
            if spec is not None and entity.join_key not in declared:
                view.entity_columns.append(Field(name=entity.join_key, dtype=spec.type.feast()))


def contract_files(path: Path) -> dict[str, Path]:
    """The repository's contracts: source name -> the file that defines the contract."""
    repository = load_repository(path)
    found: dict[str, Path] = {}
    for name, contract in repository.contracts.items():
        # A repository module, or a library the repository imports the contract from.
        module = repository.modules.get(contract.__module__) or sys.modules.get(contract.__module__)
        file = getattr(module, "__file__", None)
        found[name] = Path(file).resolve() if file else Path(contract.__module__)
    return found


_CACHE: dict[tuple[str, tuple[tuple[str, float], ...]], Repository] = {}
_LOCK = threading.Lock()


def _state(path: Path) -> tuple[tuple[str, float], ...]:
    return tuple((str(p), p.stat().st_mtime) for p in watched_files(path))


def load_repository(path: Path) -> Repository:
    """The repository at ``path``, imported again only when one of its files changed."""
    path = path.resolve()
    key = (str(path), _state(path) if path.is_dir() else ())
    with _LOCK:
        repo = _CACHE.get(key)
        if repo is None:
            repo = _CACHE[key] = _collect(path)
        return repo
