"""Builds the gateway's rate limiter for its lifespan: in-memory buckets, or one pooled Redis
client when `GATEWAY_REDIS_URL` is set (never one per request)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.rate_limit.limiter import RateLimiter
from gateway.rate_limit.memory import MemoryBuckets
from gateway.rate_limit.redis_buckets import RedisBuckets
from gateway.settings import GatewaySettings

log = logging.getLogger("cityhall.gateway.rate_limit")


def redis_client(url: str, timeout: float) -> Redis:
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )


@asynccontextmanager
async def rate_limiter(
    settings: GatewaySettings, clock: Callable[[], float] | None = None
) -> AsyncIterator[RateLimiter | None]:
    """The limiter while the gateway runs; None when rate limits are off. `clock` (seconds)
    defaults to wall time for Redis, shared by replicas, and to a monotonic clock in memory."""
    limits = settings.rate_limits
    if not limits.enabled:
        yield None
        return
    if not settings.redis_url:
        buckets = MemoryBuckets(max_buckets=limits.max_memory_buckets)
        yield RateLimiter(limits, buckets, clock=clock or time.monotonic)
        return
    client = redis_client(settings.redis_url, limits.redis_timeout_seconds)
    try:
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            log.warning(
                "Redis for rate limits is not reachable (%s); failing open until it is", exc
            )
        shared = RedisBuckets(
            client, prefix=limits.redis_key_prefix, retry_seconds=limits.redis_retry_seconds
        )
        yield RateLimiter(limits, shared, clock=clock or time.time)
    finally:
        await client.aclose()
