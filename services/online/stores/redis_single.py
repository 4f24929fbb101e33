"""One Redis as the online store: Feast's key layout, written and read as raw RESP pipelines."""

from __future__ import annotations

import pyarrow as pa
import redis
import redis.asyncio

from services.errors import OnlineStoreUnavailableError
from services.online.answer import StoredColumns, Wanted
from services.online.client import async_redis_pool, redis_client
from services.online.stores.base import ProjectRef
from services.online.stores.markers import read_markers, write_markers
from services.online.stores.resp import Hmget, hset_rows
from services.reads import ViewRead

# Commands per socket write: small enough that Redis answers each chunk well within the
# socket timeout, large enough that the round trips do not matter.
CHUNK_ROWS = 4_096


class RedisOnline:
    """One Redis server; create once per process and reuse (it holds the connection pools)."""

    tracks_loss = True

    def __init__(self, owner: ProjectRef) -> None:
        self.owner = owner
        self._redis: redis.Redis[bytes] = redis_client(owner.settings)
        self._async_pool: redis.asyncio.ConnectionPool | None = None  # type: ignore[type-arg]
        self._hmget = Hmget(owner.project)

    def write(self, read: ViewRead, batch: pa.RecordBatch | pa.Table) -> int:
        """HSET every row's hash as raw RESP built column-wise, one chunk in flight.

        Chunk ``k + 1`` is encoded while Redis applies chunk ``k``, so the two overlap.
        """
        if batch.num_rows == 0:
            return 0
        pool = self._redis.connection_pool
        try:
            conn = pool.get_connection()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise OnlineStoreUnavailableError(str(exc)) from exc
        try:
            in_flight = 0
            for start in range(0, batch.num_rows, CHUNK_ROWS):
                _, commands, offsets = hset_rows(
                    self.owner.project, read, batch.slice(start, CHUNK_ROWS)
                )
                data = memoryview(commands.buffers()[2])
                conn.send_packed_command([data[offsets[0] : offsets[-1]]], check_health=False)
                for _ in range(in_flight):
                    conn.read_response()
                in_flight = min(CHUNK_ROWS, batch.num_rows - start)
            for _ in range(in_flight):
                conn.read_response()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            conn.disconnect()
            raise OnlineStoreUnavailableError(str(exc)) from exc
        except BaseException:
            conn.disconnect()  # unread replies would corrupt the next user of the connection
            raise
        finally:
            pool.release(conn)
        return int(batch.num_rows)

    def read_columns(self, wanted: Wanted) -> list[StoredColumns]:
        groups = self._hmget.groups(wanted)
        _, commands = self._hmget.commands(groups)
        pool = self._redis.connection_pool
        try:
            conn = pool.get_connection()
            try:
                conn.send_packed_command([b"".join(commands)], check_health=False)
                replies = [conn.read_response() for _ in range(len(commands))]
            except BaseException:
                conn.disconnect()  # unread replies would corrupt the connection's next user
                raise
            finally:
                pool.release(conn)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise OnlineStoreUnavailableError(str(exc)) from exc
        return self._hmget.decode(wanted, groups, replies)

    async def read_columns_async(self, wanted: Wanted) -> list[StoredColumns]:
        if self._async_pool is None:
            self._async_pool = async_redis_pool(self.owner.settings)
        groups = self._hmget.groups(wanted)
        _, commands = self._hmget.commands(groups)
        pool = self._async_pool
        try:
            conn = await pool.get_connection()  # type: ignore[call-arg]  # stubs predate 5.3
            try:
                await conn.send_packed_command(b"".join(commands), check_health=False)
                replies = [await conn.read_response() for _ in range(len(commands))]
            except BaseException:
                await conn.disconnect(nowait=True)
                raise
            finally:
                await pool.release(conn)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise OnlineStoreUnavailableError(str(exc)) from exc
        return self._hmget.decode(wanted, groups, replies)

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except (redis.ConnectionError, redis.TimeoutError):
            return False

    def markers(self) -> dict[str, str]:
        return read_markers(lambda: self._redis, self.owner.project)

    def set_markers(self, tokens: dict[str, str]) -> None:
        write_markers(lambda: self._redis, self.owner.project, tokens)

    def close(self) -> None:
        self._redis.close()

    async def aclose(self) -> None:
        if self._async_pool is not None:
            await self._async_pool.disconnect()
            self._async_pool = None
        self.close()
