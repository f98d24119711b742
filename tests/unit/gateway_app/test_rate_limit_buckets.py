"""The rate limiter on both backends (in memory, and the real Redis): bursts, refill on an
injected clock, which bucket a request is counted against, sharing, bounds, failing open."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest
from redis.asyncio import Redis

from gateway.rate_limit.limiter import Buckets, RateLimiter, address_key
from gateway.rate_limit.memory import MemoryBuckets
from gateway.rate_limit.redis_buckets import RedisBuckets
from gateway.rate_limit.settings import RateLimitRule, RateLimitSettings, RouteClassLimits
from services.kit.auth import Principal

from .redis_support import RedisForTest, redis_for_test
from .support import FakeClock

ALICE = Principal(sub="cit_alice", kind="citizen")
BOB = Principal(sub="cit_bob", kind="citizen")
LIMITS = RateLimitSettings(
    classes={
        "read": RouteClassLimits(
            per_principal=RateLimitRule(rate=1, burst=3),
            per_ip=RateLimitRule(rate=0.5, burst=2),
        ),
        "write": RouteClassLimits(per_principal=RateLimitRule(rate=1, burst=1)),
    }
)

BucketsFactory = Callable[[], Buckets]


@pytest.fixture(params=["memory", "redis"])
async def new_buckets(request: pytest.FixtureRequest) -> AsyncIterator[BucketsFactory]:
    """Makes buckets: separate ones in memory; in Redis, new clients on one shared key space."""
    if request.param == "memory":
        yield MemoryBuckets
        return
    async with AsyncExitStack() as stack:
        redis = await stack.enter_async_context(redis_for_test())

        def shared() -> Buckets:
            client = Redis.from_url(redis.url)
            stack.push_async_callback(client.aclose)
            return RedisBuckets(client, prefix=redis.prefix)

        yield shared


async def test_a_burst_is_allowed_then_refused_until_tokens_refill(
    new_buckets: BucketsFactory, clock: FakeClock
) -> None:
    limiter = RateLimiter(LIMITS, new_buckets(), clock=clock)
    burst = [await limiter.check("read", ALICE, "10.0.0.1") for _ in range(4)]
    assert all(d is not None for d in burst)
    assert [d.allowed for d in burst if d] == [True, True, True, False]
    assert [d.remaining for d in burst if d] == [2, 1, 0, 0]
    refused = burst[-1]
    assert refused is not None
    assert (refused.retry_after, refused.reset_seconds) == (1, 3)
    assert (refused.route_class, refused.key_kind) == ("read", "principal")

    clock.advance(0.5)
    half = await limiter.check("read", ALICE, "10.0.0.1")
    assert half is not None
    assert not half.allowed
    assert half.retry_after == 1
    clock.advance(0.5)
    one = await limiter.check("read", ALICE, "10.0.0.1")
    assert one is not None
    assert one.allowed
    assert one.remaining == 0

    clock.advance(60)  # long idle: the bucket is full again, not fuller
    again = [await limiter.check("read", ALICE, "10.0.0.1") for _ in range(4)]
    assert [d.allowed for d in again if d] == [True, True, True, False]


async def test_slow_rates_round_retry_after_up_to_whole_seconds(
    new_buckets: BucketsFactory, clock: FakeClock
) -> None:
    limiter = RateLimiter(LIMITS, new_buckets(), clock=clock)
    decisions = [await limiter.check("read", None, "10.0.0.9") for _ in range(3)]
    refused = decisions[-1]
    assert refused is not None
    assert not refused.allowed
    assert refused.key_kind == "ip"
    assert (refused.retry_after, refused.reset_seconds) == (2, 4)  # 0.5 tokens per second
    clock.advance(1.5)
    still = await limiter.check("read", None, "10.0.0.9")
    assert still is not None
    assert not still.allowed
    assert still.retry_after == 1  # 0.75 of a token there: the rest in 0.5 s, rounded up


async def test_two_principals_have_separate_buckets(
    new_buckets: BucketsFactory, clock: FakeClock
) -> None:
    limiter = RateLimiter(LIMITS, new_buckets(), clock=clock)
    for _ in range(3):
        await limiter.check("read", ALICE, "10.0.0.1")
    alice = await limiter.check("read", ALICE, "10.0.0.1")
    bob = await limiter.check("read", BOB, "10.0.0.1")  # same address, own bucket
    assert alice is not None
    assert bob is not None
    assert not alice.allowed
    assert bob.allowed
    assert bob.remaining == 2


async def test_anonymous_requests_count_against_their_address(
    new_buckets: BucketsFactory, clock: FakeClock
) -> None:
    limiter = RateLimiter(LIMITS, new_buckets(), clock=clock)
    first = [await limiter.check("read", None, "192.0.2.7") for _ in range(3)]
    assert [d.allowed for d in first if d] == [True, True, False]
    other_address = await limiter.check("read", None, "192.0.2.8")
    signed_in_here = await limiter.check("read", ALICE, "192.0.2.7")
    assert other_address is not None
    assert other_address.allowed
    assert signed_in_here is not None
    assert signed_in_here.allowed
    assert signed_in_here.key_kind == "principal"
    assert await limiter.check("read", None, None) is None  # no address, nothing to count


async def test_route_classes_have_separate_buckets_and_unlisted_ones_are_free(
    new_buckets: BucketsFactory, clock: FakeClock
) -> None:
    limiter = RateLimiter(LIMITS, new_buckets(), clock=clock)
    write = [await limiter.check("write", ALICE, "10.0.0.1") for _ in range(2)]
    assert [d.allowed for d in write if d] == [True, False]
    read = await limiter.check("read", ALICE, "10.0.0.1")
    assert read is not None
    assert read.allowed
    assert await limiter.check("write", None, "10.0.0.1") is None  # write has no per-IP rule
    assert await limiter.check("auth", None, "10.0.0.1") is None  # no auth class configured


def test_ipv6_addresses_count_by_their_64() -> None:
    assert address_key("2001:db8:1:2::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("192.0.2.1") == "192.0.2.1"
    assert address_key("not-an-address:") == "not-an-address:"


async def test_redis_buckets_are_shared_by_two_limiters(
    redis: RedisForTest, clock: FakeClock
) -> None:
    clients = [Redis.from_url(redis.url), Redis.from_url(redis.url)]
    try:
        first, second = (
            RateLimiter(LIMITS, RedisBuckets(c, prefix=redis.prefix), clock=clock) for c in clients
        )
        decisions = [
            await limiter.check("read", ALICE, None) for limiter in (first, second, first, second)
        ]
    finally:
        for client in clients:
            await client.aclose()
    assert [(d.allowed, d.remaining) for d in decisions if d] == [
        (True, 2),
        (True, 1),
        (True, 0),
        (False, 0),
    ]
    (key,) = await redis.keys()
    assert key == f"{redis.prefix}read:p:cit_alice".encode()
    ttl_ms = await redis.client.pttl(key)
    assert 0 < ttl_ms <= 3 * 1000 + 1000  # gone once it would be full again


async def test_concurrent_checks_on_redis_never_overspend(
    redis: RedisForTest, clock: FakeClock
) -> None:
    limits = RateLimitSettings(
        classes={"write": RouteClassLimits(per_principal=RateLimitRule(rate=0.001, burst=25))}
    )
    clients = [Redis.from_url(redis.url) for _ in range(4)]
    try:
        limiters = [
            RateLimiter(limits, RedisBuckets(c, prefix=redis.prefix), clock=clock) for c in clients
        ]
        decisions = await asyncio.gather(
            *(limiters[i % 4].check("write", ALICE, None) for i in range(100))
        )
    finally:
        for client in clients:
            await client.aclose()
    assert sum(1 for d in decisions if d is not None and d.allowed) == 25


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_redis_fails_open_with_one_warning(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    client = Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0", socket_connect_timeout=1)
    monotonic = FakeClock(start=0.0)
    buckets = RedisBuckets(client, prefix="unused:", retry_seconds=5, monotonic=monotonic)
    limiter = RateLimiter(LIMITS, buckets, clock=clock, monotonic=monotonic)
    try:
        with caplog.at_level(logging.WARNING, logger="cityhall.gateway.rate_limit"):
            decisions = [await limiter.check("read", ALICE, None) for _ in range(5)]
    finally:
        await client.aclose()
    assert decisions == [None] * 5  # every request passes
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "failing open" in warnings[0]
    assert "ConnectionError" in warnings[0]


def test_memory_buckets_stay_bounded_and_forget_refilled_ones(clock: FakeClock) -> None:
    rule = RateLimitRule(rate=1, burst=5)  # one request taken: full again after 1 s
    buckets = MemoryBuckets(max_buckets=100)
    for i in range(1000):
        buckets.take_now(f"ip:{i}", rule, clock())
    assert len(buckets) == 100  # the least recently used went first
    clock.advance(0.5)
    buckets.take_now("ip:fresh", rule, clock())
    assert len(buckets) == 100
    clock.advance(10)  # every one of them has refilled: each check forgets two
    for _ in range(60):
        buckets.take_now("ip:busy", rule, clock())
    assert len(buckets) == 1  # only the busy one, which is empty now
