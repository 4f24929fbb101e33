"""Connections to the online store, with bounded timeouts.

Redis calls time out after ``SKEWLESS_REDIS_TIMEOUT_S`` and never retry in a loop,
so a Redis outage becomes ``OnlineStoreUnavailableError`` quickly; a new
connection is made on the next call, so service resumes by itself.
"""

from __future__ import annotations

import redis
import redis.asyncio

from services.settings import Settings


def redis_client(settings: Settings) -> redis.Redis[bytes]:
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        retry_on_timeout=False,
        retry=None,
        health_check_interval=0,
        max_connections=64,
    )


def async_redis_pool(settings: Settings) -> redis.asyncio.ConnectionPool:  # type: ignore[type-arg]
    """The same bounded-timeout connections for an event loop (the feature server)."""
    return redis.asyncio.ConnectionPool.from_url(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        retry_on_timeout=False,
        retry=None,
        health_check_interval=0,
        max_connections=64,
    )


# What a Redis or Redis Cluster client raises when the store (or a slot's master) is unreachable.
UNAVAILABLE = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.RedisClusterException,
    redis.exceptions.ClusterDownError,
)
