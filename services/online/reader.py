"""Every online read from the store: SQLite through Feast, one Redis, or a Redis Cluster.

``read_view`` returns what is stored (event time and raw values per entity);
``services.online.answer`` turns that into a service's answer (re-exported here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis
import redis.asyncio

from services.errors import (
    OnlineStoreUnavailableError,
)
from services.online.answer import (
    NOT_FOUND,
    NULL_VALUE,
    OUTSIDE_MAX_AGE,
    PRESENT,
    FeatureColumn,
    Key,
    OnlineResult,
    Stored,
    StoredColumns,
    Wanted,
    _columns,
    _rows,
    _view_columns,
    online_features,
    online_features_async,
)
from services.online.client import async_redis_pool, redis_client
from services.online.cluster import ClusterIO, routed
from services.online.codec import decode_column, decode_timestamp
from services.online.keys import (
    KeyColumns,
    entity_key,
    field_key,
    from_epoch_micros,
    redis_keys,
    ts_key,
)
from services.resolution import ViewRead
from services.store import Store

__all__ = [
    "NOT_FOUND",
    "NULL_VALUE",
    "OUTSIDE_MAX_AGE",
    "PRESENT",
    "FeatureColumn",
    "Key",
    "OnlineReader",
    "OnlineResult",
    "Stored",
    "StoredColumns",
    "Wanted",
    "_view_columns",
    "online_features",
    "online_features_async",
]


@dataclass(frozen=True)
class _Group:
    """Views read from the same hashes (same join key and keys): one HMGET per entity."""

    key_columns: KeyColumns
    keys: Sequence[Key]
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
        self._cluster: ClusterIO | None = None
        if store.settings.online_store == "redis":
            self._redis = redis_client(store.settings)
        elif store.settings.online_store == "redis_cluster":
            self._cluster = ClusterIO(store.settings)

    def ping(self) -> bool:
        if self._cluster is not None:
            return self._cluster.healthy()
        if self._redis is None:
            return self.store.settings.online_sqlite_path.exists()
        try:
            return bool(self._redis.ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False

    def read_view(self, read: ViewRead, keys: Sequence[Key]) -> list[Stored]:
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
        if self._cluster is not None:
            return self._read_cluster(self._cluster, wanted)
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
        """:meth:`read_columns` on the running event loop (SQLite and cluster reads: a thread)."""
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
        merged: dict[tuple[KeyColumns, tuple[Key, ...]], list[int]] = {}
        for i, (read, keys) in enumerate(wanted):
            merged.setdefault((read.key_columns, tuple(keys)), []).append(i)
        groups = []
        for (key_columns, keys), members in merged.items():
            reads = tuple(wanted[i][0] for i in members)
            fields, n_fields = self._fields_of(reads)
            groups.append(_Group(key_columns, keys, tuple(members), fields, n_fields))
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

    def _read_cluster(self, io: ClusterIO, wanted: Wanted) -> list[StoredColumns]:
        """One HMGET per entity key as on one Redis, each sent to its slot's master."""
        groups = self._groups(wanted)
        keys: list[bytes] = []
        commands: list[bytes] = []
        for g in groups:
            head = b"*%d\r\n$5\r\nHMGET\r\n" % (g.n_fields + 2)
            tail = b"\r\n" + g.fields
            for key in redis_keys(self.store.project, g.key_columns, g.keys):
                keys.append(key)
                commands.append(head + b"$%d\r\n" % len(key) + key + tail)
        return self._decode(wanted, groups, routed(io, keys, commands))

    def _commands(self, groups: list[_Group]) -> tuple[bytes, int]:
        project = self.store.project
        out = []
        count = 0
        for g in groups:
            head = b"*%d\r\n$5\r\nHMGET\r\n" % (g.n_fields + 2)
            tail = b"\r\n" + g.fields
            out += [
                head + b"$%d\r\n" % len(key) + key + tail
                for key in redis_keys(project, g.key_columns, g.keys)
            ]
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
                    f.name: decode_column([reply[start + j] for reply in batch], f.type)
                    for j, f in enumerate(read.features)
                }
                results[member] = (stamps, values)
                start = stop + 1
        return results

    def _read_feast(self, read: ViewRead, keys: Sequence[Key]) -> list[Stored]:
        fv = self.store.feature_views[read.view]
        rows = self.store.online_store().online_read(
            self.store.config,
            fv,
            [entity_key(read.key_columns, k) for k in keys],
            [f.name for f in read.features],
        )
        types = {f.name: f.type for f in read.features}
        stamp = ts_key(read.view)
        out: list[Stored] = []
        for ts, values in rows:
            if values is None:
                out.append((ts, None))
                continue
            exact = values.get(stamp)  # see OnlineWriter._write_feast
            if exact is not None and exact.WhichOneof("val") == "int64_val":
                ts = from_epoch_micros(exact.int64_val)
            decoded = {
                n: decode_column([v.SerializeToString()], types[n])[0]
                for n, v in values.items()
                if n in types
            }
            out.append((ts, decoded))
        return out

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
        if self._cluster is not None:
            self._cluster.close()

    async def aclose(self) -> None:
        """Close the event loop's connections too (the feature server's shutdown)."""
        if self._async_pool is not None:
            await self._async_pool.disconnect()
            self._async_pool = None
        self.close()
