"""A service's online answer from stored values: statuses, ttl, on-demand features.

``services.online.reader`` fetches what is stored; this module turns it into per-feature
columns (value, status, event time) with expired values served as null with status
``OUTSIDE_MAX_AGE`` and on-demand features computed by the shared transform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from services.clock import now_utc
from services.ondemand import input_columns, run_on_demand
from services.online.requests import CheckedRequest, ValueColumns, check_request
from services.reads import ServicePlan, ViewRead

if TYPE_CHECKING:
    import pandas as pd

    from services.settings import Settings

PRESENT, NULL_VALUE, NOT_FOUND, OUTSIDE_MAX_AGE = (
    "PRESENT",
    "NULL_VALUE",
    "NOT_FOUND",
    "OUTSIDE_MAX_AGE",
)

Stored = tuple[datetime | None, dict[str, Any] | None]
# One view for every key: event times (None when absent) and each feature's values.
StoredColumns = tuple[list[datetime | None], dict[str, list[Any]]]


@dataclass
class FeatureColumn:
    """One feature (or join key) for every requested entity row."""

    name: str
    values: list[Any]
    statuses: list[str]
    event_timestamps: list[datetime | None]

    def ages(self, at: datetime) -> list[float | None]:
        return [None if t is None else (at - t).total_seconds() for t in self.event_timestamps]


@dataclass
class OnlineResult:
    """One online answer: a column per join key and feature, in the service's order."""

    service: str
    at: datetime
    columns: list[FeatureColumn]

    def to_dict(self, include_event_timestamps: bool = False) -> dict[str, list[Any]]:
        """Values by name, as Feast's ``OnlineResponse.to_dict`` gives them.

        With ``include_event_timestamps``, ``<name>__ts`` follows each column: its event times
        (UTC datetimes to the microsecond, None where there is no value; Feast gives whole
        epoch seconds). Statuses are on ``columns``.
        """
        out: dict[str, list[Any]] = {}
        for column in self.columns:
            out[column.name] = list(column.values)
            if include_event_timestamps:
                out[f"{column.name}__ts"] = list(column.event_timestamps)
        return out

    def to_df(self, include_event_timestamps: bool = False) -> pd.DataFrame:
        """``to_dict`` as a DataFrame, a row per requested entity (Feast's ``to_df``)."""
        import pandas as pd

        return pd.DataFrame(self.to_dict(include_event_timestamps))


Key = tuple[Any, ...]  # one entity's join key values, in the view's key order
Wanted = Sequence[tuple[ViewRead, Sequence[Key]]]


class ColumnReader(Protocol):
    """What an answer is read through: ``OnlineReader``, or a serving plan's reader."""

    @property
    def settings(self) -> Settings: ...

    def read_columns(self, wanted: Wanted) -> list[StoredColumns]: ...

    async def read_columns_async(self, wanted: Wanted) -> list[StoredColumns]: ...


def _columns(read: ViewRead, rows: list[Stored]) -> StoredColumns:
    stamps = [ts for ts, _ in rows]
    values = {
        f.name: [None if v is None else v.get(f.name) for _, v in rows] for f in read.features
    }
    return stamps, values


def _rows(read: ViewRead, columns: StoredColumns) -> list[Stored]:
    stamps, values = columns
    names = [f.name for f in read.features]
    return [
        (None, None) if ts is None else (ts, {n: values[n][i] for n in names})
        for i, ts in enumerate(stamps)
    ]


def _view_columns(read: ViewRead, stored: list[Stored], at: datetime) -> list[FeatureColumn]:
    return _feature_columns(read, _columns(read, stored), at)


def _feature_columns(read: ViewRead, stored: StoredColumns, at: datetime) -> list[FeatureColumn]:
    """Each feature's values and statuses: absent -> NOT_FOUND, expired -> OUTSIDE_MAX_AGE."""
    stamps, values = stored
    cutoff = at - read.ttl if read.ttl.total_seconds() > 0 else None
    state = [
        NOT_FOUND if ts is None else OUTSIDE_MAX_AGE if cutoff is not None and ts < cutoff else ""
        for ts in stamps
    ]
    cols = []
    for f in read.features:
        vals = [None if st else v for st, v in zip(state, values[f.name], strict=True)]
        statuses = [
            st or (PRESENT if v is not None else NULL_VALUE)
            for st, v in zip(state, vals, strict=True)
        ]
        cols.append(FeatureColumn(f.name, vals, statuses, stamps))
    return cols


def _prepare(
    reader: ColumnReader,
    plan: ServicePlan,
    entities: ValueColumns,
    request_data: ValueColumns | None,
) -> tuple[CheckedRequest, Wanted]:
    checked = check_request(plan, entities, request_data, reader.settings.serve_max_entities)
    wanted = [
        (read, list(zip(*(checked.keys[c] for c in read.request_columns), strict=True)))
        for read in plan.fetch
    ]
    return checked, wanted


def _assemble(
    plan: ServicePlan,
    checked: CheckedRequest,
    stored: list[StoredColumns],
    at: datetime,
    full_feature_names: bool,
) -> OnlineResult:
    n, keys = checked.rows, checked.keys
    columns = [FeatureColumn(k, list(keys[k]), [PRESENT] * n, [None] * n) for k in plan.join_keys]
    fetched: dict[tuple[str, str], list[Any]] = {}
    for i, (read, rows) in enumerate(zip(plan.fetch, stored, strict=True)):
        view_cols = _feature_columns(read, rows, at)
        for spec, col in zip(read.features, view_cols, strict=True):
            fetched[(read.alias, spec.name)] = col.values
        if i < len(plan.views):
            columns.extend(view_cols)
    specs = {s.name: s for s in plan.request_fields}
    for odfv in plan.on_demand:
        inputs = input_columns(odfv, fetched)
        inputs.update({name: (specs[name], v) for name, v in checked.request_data.items()})
        inputs.update({k: (None, list(keys[k])) for k in plan.join_keys})
        outputs = run_on_demand(odfv, inputs, n)
        for spec in odfv.features:
            values = outputs[spec.name]
            columns.append(
                FeatureColumn(
                    spec.name,
                    values,
                    [PRESENT if v is not None else NULL_VALUE for v in values],
                    [None] * n,
                )
            )
    if full_feature_names:  # Feast's ``view__feature``, the projection's name for the view
        features = columns[len(plan.join_keys) :]
        for column, name in zip(features, plan.output_names(full=True), strict=True):
            column.name = name
    return OnlineResult(service=plan.name, at=at, columns=columns)


def online_features(
    reader: ColumnReader,
    plan: ServicePlan,
    entities: ValueColumns,
    request_data: ValueColumns | None = None,
    *,
    at: datetime | None = None,
    full_feature_names: bool = False,
) -> OnlineResult:
    """The online answer for a feature service: join keys first, then features in order.

    Inputs are checked by :func:`services.online.requests.check_request` (request data may
    come among ``entities``). ``full_feature_names`` names each feature ``view__feature``;
    without it two features of one name keep it, so callers answering by name refuse that
    first (``plan.output_names()``), as Feast does.
    """
    at = at or now_utc()
    checked, wanted = _prepare(reader, plan, entities, request_data)
    stored = reader.read_columns(wanted)
    return _assemble(plan, checked, stored, at, full_feature_names)


async def online_features_async(
    reader: ColumnReader,
    plan: ServicePlan,
    entities: ValueColumns,
    request_data: ValueColumns | None = None,
    *,
    full_feature_names: bool = False,
) -> OnlineResult:
    """:func:`online_features` without blocking the event loop on the online store."""
    at = now_utc()
    checked, wanted = _prepare(reader, plan, entities, request_data)
    stored = await reader.read_columns_async(wanted)
    return _assemble(plan, checked, stored, at, full_feature_names)
