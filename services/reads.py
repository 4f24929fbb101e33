"""What a request reads, resolved: views, features, join keys, ttls, on-demand code.

Plain values only (names, :class:`FieldType`, :class:`ColumnSpec`, the on-demand function), so
the online read path runs on them without Feast or Pandera: :mod:`services.resolution` builds
them from the registry and the repository, :mod:`services.serving_plan` from the plan written
at apply time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.contracts.specs import ColumnSpec
from services.contracts.types import FieldType
from services.errors import RequestError

Transform = Callable[[Any], Any]


@dataclass(frozen=True)
class OnDemandCode:
    """The function of one on-demand view and how Feast calls it."""

    function: Transform
    mode: str  # "pandas" or "python"
    singleton: bool = False


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
    source: str  # the source's name: its contract's name in the repository
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
