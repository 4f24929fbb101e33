"""Redis Cluster as the online store: the same keys and bytes, routed by hash slot.

redis-py's ``RedisCluster`` owns the topology (startup nodes, the slot map, failover
discovery). The hot paths send raw RESP as they do on one Redis, but split per master: each key's
command goes to the master of its slot (``CRC16(key) mod 16384``), every master gets its share
pipelined on one of its connections, all masters are written to before any is read from, and the
replies are put back in the callers' order. A ``MOVED``/``ASK`` reply (a slot moved, a failover)
refreshes the slot map and sends the whole exchange again (every command here is idempotent: an
HSET of the same values, an HMGET). A master that does not answer is
``OnlineStoreUnavailableError`` (a 503 from the feature server, like a Redis outage); the slot map
is refreshed on the next call, so service resumes once a replica has taken over.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    RedisClusterException,
    TryAgainError,
)

from services.errors import OnlineStoreUnavailableError
from services.settings import Settings

ATTEMPTS = 3
_REROUTE = (MovedError, AskError, TryAgainError, ClusterDownError)
_DOWN = (redis.ConnectionError, redis.TimeoutError, RedisClusterException, OSError)


def cluster_client(settings: Settings) -> RedisCluster[bytes]:
    """A client of the cluster at ``SKEWLESS_REDIS_CLUSTER_NODES``, with bounded timeouts."""
    try:
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in settings.cluster_nodes],
            socket_timeout=settings.redis_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
            require_full_coverage=True,
        )
    except _DOWN as exc:
        raise OnlineStoreUnavailableError(f"Redis Cluster: {exc}") from exc


class ClusterIO:
    """Raw RESP exchanges with a Redis Cluster, one pipeline per master."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: RedisCluster[bytes] | None = None
        self._lock = threading.Lock()  # the feature server reads from a thread pool

    @property
    def client(self) -> RedisCluster[bytes]:
        with self._lock:
            if self._client is None:
                self._client = cluster_client(self.settings)
            return self._client

    def node_names(self, keys: Sequence[bytes]) -> list[str]:
        """The master (``host:port``) currently serving each key's slot."""
        manager = self.client.nodes_manager
        slots = [self.client.keyslot(k) for k in keys]
        return [manager.get_node_from_slot(slot).name for slot in slots]  # type: ignore[arg-type]

    def exchange(self, parts: dict[str, tuple[bytes, int]]) -> dict[str, list[Any]]:
        """Send each master its packed commands; return its replies (per ``host:port``).

        ``parts`` maps a master's name to (packed commands, how many). Raises
        ``OnlineStoreUnavailableError`` when a master does not answer, and ``_RerouteError`` when a
        reply says the slot map is stale (the caller regroups and calls again).
        """
        try:
            client = self.client
            conns = []
            try:
                for name, (payload, _) in parts.items():
                    node = client.get_node(node_name=name)
                    if node is None:
                        raise _RerouteError(f"no node {name} in the slot map")
                    pool = client.get_redis_connection(node).connection_pool
                    conn = pool.get_connection()
                    conns.append((name, pool, conn))
                    conn.send_packed_command([payload], check_health=False)
                replies: dict[str, list[Any]] = {}
                for name, _, conn in conns:
                    replies[name] = [conn.read_response() for _ in range(parts[name][1])]
                return replies
            except BaseException:
                for _, _, conn in conns:
                    conn.disconnect()  # unread replies would corrupt the next user
                raise
            finally:
                for _, pool, conn in conns:
                    pool.release(conn)
        except _REROUTE as exc:
            raise _RerouteError(str(exc)) from exc
        except _DOWN as exc:
            self.reset()
            raise OnlineStoreUnavailableError(f"Redis Cluster: {exc}") from exc

    def refresh(self) -> None:
        """Re-read the slot map from the cluster (after MOVED, ASK or a failover)."""
        try:
            self.client.nodes_manager.initialize()
        except _DOWN as exc:
            self.reset()
            raise OnlineStoreUnavailableError(f"Redis Cluster: {exc}") from exc

    def reset(self) -> None:
        """Forget the client: the next call discovers the cluster again from the startup nodes.

        A caller still holding the old client finishes on it (its pools stay usable until
        the garbage collector takes them), so no other thread's exchange is cut short.
        """
        with self._lock:
            self._client = None

    def healthy(self) -> bool:
        """Every slot is served (``cluster_state:ok``) as a startup node sees it."""
        try:
            info = self.client.cluster_info(target_nodes=RedisCluster.RANDOM)
        except (*_DOWN, OnlineStoreUnavailableError):
            self.reset()
            return False
        return str(info.get("cluster_state")) == "ok"

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(*_DOWN):
                client.close()


class _RerouteError(Exception):
    """The slot map is stale: regroup the commands and send them again."""


def routed(io: ClusterIO, keys: Sequence[bytes], commands: Sequence[bytes]) -> list[Any]:
    """Send ``commands[i]`` (packed, for ``keys[i]``) to its master; replies in input order."""
    for attempt in range(ATTEMPTS):
        names = io.node_names(keys)
        members: dict[str, list[int]] = {}
        for i, name in enumerate(names):
            members.setdefault(name, []).append(i)
        parts = {
            name: (b"".join(commands[i] for i in idx), len(idx)) for name, idx in members.items()
        }
        try:
            replies = io.exchange(parts)
        except _RerouteError as exc:
            if attempt == ATTEMPTS - 1:
                raise OnlineStoreUnavailableError(
                    f"Redis Cluster kept moving slots: {exc}"
                ) from exc
            io.refresh()
            continue
        out: list[Any] = [None] * len(keys)
        for name, idx in members.items():
            for i, reply in zip(idx, replies[name], strict=True):
                out[i] = reply
        return out
    raise OnlineStoreUnavailableError("Redis Cluster: no attempt left")  # unreachable
