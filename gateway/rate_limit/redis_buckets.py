"""Buckets in Redis, shared by every gateway replica: one atomic Lua script per check
(EVALSHA; redis-py loads the script again if the server lost it).

The bucket is a hash (`tokens`, `stamp`) that expires once it would be full again, so Redis
holds only the buckets in use. `now` is the caller's wall clock, so replicas need roughly
synchronised clocks (NTP); a replica whose clock lags never moves a bucket's stamp backwards.

Any Redis failure raises `BucketsUnavailable`; for `retry_seconds` after one, checks fail at
once without touching the network, so a dead Redis costs one timeout, not one per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.rate_limit.settings import RateLimitRule

TAKE_ONE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1])
local stamp = tonumber(state[2])
if tokens == nil or stamp == nil then
  tokens = burst
  stamp = now
end
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local allowed = 0
if tokens >= 1 - 1e-9 then
  allowed = 1
  tokens = math.max(0, tokens - 1)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', math.max(stamp, now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


class BucketsUnavailable(Exception):
    """The shared buckets cannot be reached; the caller lets the request pass."""


class RedisBuckets:
    def __init__(
        self,
        client: Redis,
        *,
        prefix: str,
        retry_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self.retry_seconds = retry_seconds
        self._monotonic = monotonic
        self._take_one = client.register_script(TAKE_ONE)
        self._down_until: float | None = None

    async def take(self, key: str, rule: RateLimitRule, now: float) -> tuple[bool, float]:
        if self._down_until is not None:
            if self._monotonic() < self._down_until:
                raise BucketsUnavailable("Redis failed moments ago; not asking again yet")
            self._down_until = None
        try:
            allowed, tokens = await self._take_one(
                keys=[self.prefix + key], args=[rule.rate, rule.burst, now]
            )
        except (RedisError, OSError) as exc:
            self._down_until = self._monotonic() + self.retry_seconds
            raise BucketsUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return bool(allowed), float(tokens)
