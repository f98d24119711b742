"""Buckets in this process's memory: a dict in least-recently-used order, O(1) per check.

No lock: a check never awaits, so on one event loop it runs to completion. Memory is bounded:
each check forgets up to two least recently used buckets that have refilled (they carry no
information), and past `max_buckets` the least recently used one goes regardless (its key
then starts again from a full bucket).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from gateway.rate_limit.bucket import refilled, seconds_until_full, take_one
from gateway.rate_limit.settings import RateLimitRule

_EVICT_PER_CHECK = 2


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float
    full_at: float


class MemoryBuckets:
    def __init__(self, *, max_buckets: int = 100_000) -> None:
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    async def take(self, key: str, rule: RateLimitRule, now: float) -> tuple[bool, float]:
        return self.take_now(key, rule, now)

    def take_now(self, key: str, rule: RateLimitRule, now: float) -> tuple[bool, float]:
        bucket = self._buckets.get(key)
        if bucket is None:
            tokens = float(rule.burst)
        else:
            tokens = refilled(bucket.tokens, bucket.stamp, now, rule)
            self._buckets.move_to_end(key)
        allowed, tokens = take_one(tokens)
        full_at = now + seconds_until_full(tokens, rule)
        if bucket is None:
            self._buckets[key] = _Bucket(tokens, now, full_at)
        else:
            bucket.tokens, bucket.stamp, bucket.full_at = tokens, max(bucket.stamp, now), full_at
        self._evict(now)
        return allowed, tokens

    def _evict(self, now: float) -> None:
        buckets = self._buckets
        for _ in range(_EVICT_PER_CHECK):
            if not buckets:
                break
            oldest_key = next(iter(buckets))
            if buckets[oldest_key].full_at > now:
                break
            del buckets[oldest_key]
        while len(buckets) > self.max_buckets:
            buckets.popitem(last=False)
