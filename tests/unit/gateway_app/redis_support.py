"""The real Redis of this machine (and of CI) for the rate-limit tests: a unique key prefix per
test, deleted afterwards. The Redis tests skip only when Redis is unreachable AND
CITYHALL_REQUIRE_REDIS is unset; with it set, an unreachable Redis fails them."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

REDIS_URL = os.environ.get("CITYHALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_ENV = "CITYHALL_REQUIRE_REDIS"


@dataclass(frozen=True)
class RedisForTest:
    url: str
    prefix: str
    client: Redis

    async def keys(self) -> list[bytes]:
        return [key async for key in self.client.scan_iter(match=f"{self.prefix}*")]


@asynccontextmanager
async def redis_for_test() -> AsyncIterator[RedisForTest]:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            if os.environ.get(REQUIRE_ENV):
                pytest.fail(f"{REQUIRE_ENV} is set but Redis at {REDIS_URL} is unreachable: {exc}")
            pytest.skip(
                f"Redis at {REDIS_URL} is unreachable ({exc}): start one there (e.g."
                " `redis-server --port 6379`) or point CITYHALL_TEST_REDIS_URL at one;"
                f" CI sets {REQUIRE_ENV}=1, which turns this skip into a failure"
            )
        prefix = f"cityhall-test:{uuid.uuid4().hex}:"
        running = RedisForTest(REDIS_URL, prefix, client)
        try:
            yield running
        finally:
            for key in await running.keys():
                await client.delete(key)
    finally:
        await client.aclose()
