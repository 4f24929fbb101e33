"""Every online read: one function per layer, the same ttl rule as the offline path.

``read_view`` returns what is stored (event time and raw values per entity);
``online_features`` turns that into a service's answer: per feature the value,
status, event time and age, with expired values served as null with status
``OUTSIDE_MAX_AGE`` and on-demand features computed by the shared transform.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import redis
import redis.asyncio

from services.errors import (
    EntityKeyError,
    OnlineStoreUnavailableError,
    RequestDataError,
    RequestTooLargeError,
)
from services.online.client import async_redis_pool, redis_client
from services.online.codec import (
    decode_column,
    decode_timestamp,
    decode_value,
    entity_key,
    entity_key_prefix,
    field_key,
    ts_key,
)
from services.resolution import ServicePlan, ViewRead
from services.store import Store, now_utc

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
    service: str
    at: datetime
    columns: list[FeatureColumn]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({c.name: c.values for c in self.columns})


_INT64 = struct.Struct("<q")
Wanted = Sequence[tuple[ViewRead, Sequence[int]]]


@dataclass(frozen=True)
class _Group:
    """Views read from the same hashes (same join key and keys): one HMGET per entity."""

    join_key: str
    keys: Sequence[int]
    members: tuple[int, ...]  # positions in the request's ``wanted``
    fields: bytes  # the HMGET field arguments, RESP-framed
    n_fields: int


def _framed(arg: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(arg), arg)


class OnlineReader:
    """Reads one store's online values; create once per process and reuse.

    On Redis, the views of a request that share a join key live in the same hashes, so a
    request is one pipelined ``HMGET`` per entity, packed here as raw RESP (redis-py's
    per-command packing costs more than Redis answering). ``read_columns_async`` does the same
    round trip without blocking an event loop (the feature server).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._redis: redis.Redis[bytes] | None = None
        self._async_pool: redis.asyncio.ConnectionPool | None = None  # type: ignore[type-arg]
        self._fields: dict[tuple[int, ...], tuple[tuple[ViewRead, ...], bytes, int]] = {}
        if store.settings.online_store == "redis":
            self._redis = redis_client(store.settings)

    def ping(self) -> bool:
        if self._redis is None:
            return self.store.settings.online_sqlite_path.exists()
        try:
            return bool(self._redis.ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False

    def read_view(self, read: ViewRead, keys: Sequence[int]) -> list[Stored]:
        """Stored (event time, {feature: value}) per key; (None, None) when absent."""
        return self.read_views([(read, keys)])[0]

    def read_views(self, wanted: Wanted) -> list[list[Stored]]:
        """Several views at once: on Redis, one pipelined round trip for the whole request."""
        return [
            _rows(read, cols)
            for (read, _), cols in zip(wanted, self.read_columns(wanted), strict=True)
        ]

    def read_columns(self, wanted: Wanted) -> list[StoredColumns]:
        """:meth:`read_views`, column-wise (what serving assembles its answer from)."""
        if self._redis is None:
            return [_columns(read, self._read_feast(read, keys)) for read, keys in wanted]
        groups = self._groups(wanted)
        commands, count = self._commands(groups)
        pool = self._redis.connection_pool
        try:
            conn = pool.get_connection()
            try:
                conn.send_packed_command([commands], check_health=False)
                replies = [conn.read_response() for _ in range(count)]
            except BaseException:
                conn.disconnect()  # unread replies would corrupt the connection's next user
                raise
            finally:
                pool.release(conn)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise OnlineStoreUnavailableError(str(exc)) from exc
        return self._decode(wanted, groups, replies)

    async def read_columns_async(self, wanted: Wanted) -> list[StoredColumns]:
        """:meth:`read_columns` on the running event loop (SQLite reads go to a thread)."""
        if self._redis is None:
            from starlette.concurrency import run_in_threadpool

            return await run_in_threadpool(self.read_columns, wanted)
        if self._async_pool is None:
            self._async_pool = async_redis_pool(self.store.settings)
        groups = self._groups(wanted)
        commands, count = self._commands(groups)
        pool = self._async_pool
        try:
            conn = await pool.get_connection()  # type: ignore[call-arg]  # stubs predate 5.3
            try:
                await conn.send_packed_command(commands, check_health=False)
                replies = [await conn.read_response() for _ in range(count)]
            except BaseException:
                await conn.disconnect(nowait=True)
                raise
            finally:
                await pool.release(conn)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise OnlineStoreUnavailableError(str(exc)) from exc
        return self._decode(wanted, groups, replies)

    def _groups(self, wanted: Wanted) -> list[_Group]:
        merged: dict[tuple[str, tuple[int, ...]], list[int]] = {}
        for i, (read, keys) in enumerate(wanted):
            merged.setdefault((read.join_key, tuple(keys)), []).append(i)
        groups = []
        for (join_key, keys), members in merged.items():
            reads = tuple(wanted[i][0] for i in members)
            fields, n_fields = self._fields_of(reads)
            groups.append(_Group(join_key, keys, tuple(members), fields, n_fields))
        return groups

    def _fields_of(self, reads: tuple[ViewRead, ...]) -> tuple[bytes, int]:
        """The framed HMGET field arguments of these views, cached by the reads' identity.

        Plans are cached, so the same ``ViewRead`` objects come back on every request; the
        cache keeps them alive, so an id is never reused by another read while cached.
        """
        key = tuple(id(r) for r in reads)
        hit = self._fields.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], reads, strict=True)):
            return hit[1], hit[2]
        if len(self._fields) >= 1024:  # ad-hoc feature lists: keep the cache bounded
            self._fields.clear()
        args = []
        for read in reads:
            args += [field_key(read.view, f.name) for f in read.features]
            args.append(ts_key(read.view).encode())
        blob = b"".join(_framed(a) for a in args)
        self._fields[key] = (reads, blob, len(args))
        return blob, len(args)

    def _commands(self, groups: list[_Group]) -> tuple[bytes, int]:
        suffix = self.store.project.encode("utf-8")
        out = []
        count = 0
        for g in groups:
            head = b"*%d\r\n$5\r\nHMGET\r\n" % (g.n_fields + 2)
            prefix = entity_key_prefix(g.join_key)
            head += b"$%d\r\n%s" % (len(prefix) + 8 + len(suffix), prefix)
            tail = suffix + b"\r\n" + g.fields
            out += [head + _INT64.pack(k) + tail for k in g.keys]
            count += len(g.keys)
        return b"".join(out), count

    def _decode(
        self, wanted: Wanted, groups: list[_Group], replies: list[list[bytes | None]]
    ) -> list[StoredColumns]:
        results: list[StoredColumns] = [([], {}) for _ in wanted]
        at = 0
        for g in groups:
            batch = replies[at : at + len(g.keys)]
            at += len(g.keys)
            start = 0
            for member in g.members:
                read = wanted[member][0]
                stop = start + len(read.features)
                stamps = [decode_timestamp(reply[stop]) for reply in batch]
                values = {
                    f.name: decode_column([reply[start + j] for reply in batch], f.kind)
                    for j, f in enumerate(read.features)
                }
                results[member] = (stamps, values)
                start = stop + 1
        return results

    def _read_feast(self, read: ViewRead, keys: Sequence[int]) -> list[Stored]:
        fv = self.store.feature_views[read.view]
        rows = self.store.online_store().online_read(
            self.store.config,
            fv,
            [entity_key(read.join_key, k) for k in keys],
            [f.name for f in read.features],
        )
        return [
            (ts, None if values is None else {n: decode_value(v) for n, v in values.items()})
            for ts, values in rows
        ]

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()

    async def aclose(self) -> None:
        """Close the event loop's connections too (the feature server's shutdown)."""
        if self._async_pool is not None:
            await self._async_pool.disconnect()
            self._async_pool = None
        self.close()


def _is_int_key(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_entities(plan: ServicePlan, entities: Mapping[str, Sequence[Any]], max_rows: int) -> int:
    """Validate entity keys strictly (no coercion); return the number of rows."""
    unknown = sorted(set(entities) - set(plan.join_keys) - {f.name for f in plan.request_fields})
    if unknown:
        raise EntityKeyError(unknown[0], f"not a join key of {plan.name} ({plan.join_keys})")
    missing = [k for k in plan.join_keys if k not in entities]
    if missing:
        raise EntityKeyError(missing[0], "missing")
    lengths = {len(entities[k]) for k in plan.join_keys}
    if len(lengths) != 1:
        raise EntityKeyError(plan.join_keys[0], "entity key lists differ in length")
    n = lengths.pop()
    if n > max_rows:
        raise RequestTooLargeError("entity rows", max_rows)
    for key in plan.join_keys:
        for i, value in enumerate(entities[key]):
            if not _is_int_key(value):
                raise EntityKeyError(key, f"row {i}: expected an integer, got {value!r}")
            if not -(2**63) <= value < 2**63:
                raise EntityKeyError(key, f"row {i}: {value} is outside int64")
    return n


def check_request_data(
    plan: ServicePlan, request_data: Mapping[str, Sequence[Any]], rows: int
) -> dict[str, list[float]]:
    """Validate request data against its contract: type and range, no coercion."""
    out: dict[str, list[float]] = {}
    for spec in plan.request_fields:
        if spec.name not in request_data:
            raise RequestDataError(spec.name, "missing (needed by an on-demand feature)")
        values = list(request_data[spec.name])
        if len(values) != rows:
            raise RequestDataError(spec.name, f"{len(values)} values for {rows} entity rows")
        for i, v in enumerate(values):
            ok = isinstance(v, int | float) and not isinstance(v, bool)
            if not ok or (isinstance(v, float) and not math.isfinite(v)):
                raise RequestDataError(spec.name, f"row {i}: expected a number, got {v!r}")
            if (spec.ge is not None and v < spec.ge) or (spec.le is not None and v > spec.le):
                raise RequestDataError(
                    spec.name, f"row {i}: {v} outside the contract range [{spec.ge}, {spec.le}]"
                )
        out[spec.name] = [float(v) for v in values]
    return out


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


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _prepare(
    reader: OnlineReader,
    plan: ServicePlan,
    entities: Mapping[str, Sequence[Any]],
    request_data: Mapping[str, Sequence[Any]] | None,
) -> tuple[int, dict[str, list[float]], Wanted]:
    n = check_entities(plan, entities, reader.store.settings.serve_max_entities)
    request = check_request_data(plan, request_data or {}, n)
    wanted = [(read, [int(k) for k in entities[read.join_key]]) for read in plan.views]
    return n, request, wanted


def _assemble(
    plan: ServicePlan,
    entities: Mapping[str, Sequence[Any]],
    n: int,
    request: dict[str, list[float]],
    stored: list[StoredColumns],
    at: datetime,
) -> OnlineResult:
    columns = [
        FeatureColumn(k, list(entities[k]), [PRESENT] * n, [None] * n) for k in plan.join_keys
    ]
    by_name: dict[str, FeatureColumn] = {}
    for read, rows in zip(plan.views, stored, strict=True):
        view_cols = _feature_columns(read, rows, at)
        by_name.update({c.name: c for c in view_cols})
        columns.extend(view_cols)
    for odfv in plan.on_demand:
        inputs: dict[str, Sequence[Any]] = {name: col.values for name, col in by_name.items()}
        inputs.update(request)
        outputs = odfv.transform(inputs)
        for spec in odfv.features:
            values = [_clean(v) for v in list(outputs[spec.name])]
            columns.append(
                FeatureColumn(
                    spec.name,
                    values,
                    [PRESENT if v is not None else NULL_VALUE for v in values],
                    [None] * n,
                )
            )
    return OnlineResult(service=plan.name, at=at, columns=columns)


def online_features(
    reader: OnlineReader,
    plan: ServicePlan,
    entities: Mapping[str, Sequence[Any]],
    request_data: Mapping[str, Sequence[Any]] | None = None,
    *,
    at: datetime | None = None,
) -> OnlineResult:
    """The online answer for a feature service: join keys first, then features in order."""
    at = at or now_utc()
    n, request, wanted = _prepare(reader, plan, entities, request_data)
    return _assemble(plan, entities, n, request, reader.read_columns(wanted), at)


async def online_features_async(
    reader: OnlineReader,
    plan: ServicePlan,
    entities: Mapping[str, Sequence[Any]],
    request_data: Mapping[str, Sequence[Any]] | None = None,
) -> OnlineResult:
    """:func:`online_features` without blocking the event loop on the online store."""
    at = now_utc()
    n, request, wanted = _prepare(reader, plan, entities, request_data)
    return _assemble(plan, entities, n, request, await reader.read_columns_async(wanted), at)
