"""Rate limits through the running gateway, with the in-memory buckets and with the real
Redis: 429 problems with Retry-After and RateLimit-*, refill on the injected clock, per
principal and per client address, the auth endpoints, bad tokens, failing open."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import pytest

from gateway.keys import KeyStore
from gateway.rate_limit.settings import RateLimitRule, RateLimitSettings, RouteClassLimits
from gateway.tokens import issue_access_token

from .redis_support import redis_for_test
from .support import FakeClock, GatewayFactory, Upstream

CLASSES = {
    "auth": RouteClassLimits(per_ip=RateLimitRule(rate=0.5, burst=2)),
    "write": RouteClassLimits(
        per_principal=RateLimitRule(rate=1, burst=1), per_ip=RateLimitRule(rate=1, burst=1)
    ),
    "read": RouteClassLimits(
        per_principal=RateLimitRule(rate=1, burst=3), per_ip=RateLimitRule(rate=1, burst=2)
    ),
}
LIMIT_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


@pytest.fixture(params=["memory", "redis"])
async def limit_settings(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """Gateway settings for the rate limits under test, on each backend."""
    if request.param == "memory":
        yield {"rate_limits": RateLimitSettings(classes=CLASSES)}
        return
    async with AsyncExitStack() as stack:
        redis = await stack.enter_async_context(redis_for_test())
        yield {
            "redis_url": redis.url,
            "rate_limits": RateLimitSettings(classes=CLASSES, redis_key_prefix=redis.prefix),
        }


def routed(upstream: Upstream, **more: Any) -> dict[str, Any]:
    return {"upstreams": {"alpha": upstream.url}, "routes": {"/v1/echo": "alpha"}, **more}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_principal_past_its_burst_gets_a_429_problem_until_tokens_refill(
    make_gateway: GatewayFactory,
    upstream: Upstream,
    limit_settings: dict[str, Any],
    clock: FakeClock,
) -> None:
    async with make_gateway(**routed(upstream, **limit_settings), rate_limit_clock=clock) as gw:
        alice = bearer(gw.token(sub="cit_alice"))
        allowed = [await gw.client.get("/v1/echo", headers=alice) for _ in range(3)]
        refused = await gw.client.get("/v1/echo", headers=alice, params={"n": "4"})
        clock.advance(1)
        refilled = await gw.client.get("/v1/echo", headers=alice)

    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert [r.headers["ratelimit-remaining"] for r in allowed] == ["2", "1", "0"]
    assert {r.headers["ratelimit-limit"] for r in allowed} == {"3"}
    assert [r.headers["ratelimit-reset"] for r in allowed] == ["1", "2", "3"]

    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["retry-after"] == "1"
    assert [refused.headers[h] for h in LIMIT_HEADERS] == ["3", "0", "3"]
    assert refused.headers["ratelimit-policy"] == "3;w=3"
    assert refused.json() == {
        "type": "/problems/rate-limited",
        "title": "Too many requests",
        "status": 429,
        "detail": "rate limit for read requests per principal exceeded (3 at once, 1 per "
        "second); retry in 1 s",
        "instance": refused.headers["x-request-id"],
        "rate_limit": {"class": "read", "key": "principal", "burst": 3, "rate_per_second": 1.0},
    }
    assert len(upstream.hits) == 4  # the refused request never reached the service
    assert refilled.status_code == 200
    assert refilled.headers["ratelimit-remaining"] == "0"


async def test_principals_are_counted_apart_and_anonymous_requests_per_address(
    make_gateway: GatewayFactory,
    upstream: Upstream,
    limit_settings: dict[str, Any],
    clock: FakeClock,
) -> None:
    async with make_gateway(**routed(upstream, **limit_settings), rate_limit_clock=clock) as gw:
        alice, bob = bearer(gw.token(sub="cit_alice")), bearer(gw.token(sub="cit_bob"))
        alice_statuses = [
            (await gw.client.get("/v1/echo", headers=alice)).status_code for _ in range(4)
        ]
        bob_answer = await gw.client.get("/v1/echo", headers=bob)
        anonymous = [(await gw.client.get("/v1/echo")) for _ in range(3)]
        async with gw.client_at("198.51.100.4") as elsewhere:
            other_address = await elsewhere.get("/v1/echo")

    assert alice_statuses == [200, 200, 200, 429]
    assert bob_answer.status_code == 200
    assert bob_answer.headers["ratelimit-remaining"] == "2"
    assert [r.status_code for r in anonymous] == [200, 200, 429]  # per-IP burst is 2
    assert anonymous[-1].json()["rate_limit"]["key"] == "ip"
    assert anonymous[-1].headers["ratelimit-limit"] == "2"
    assert other_address.status_code == 200


async def test_writes_are_limited_apart_from_reads(
    make_gateway: GatewayFactory, upstream: Upstream, clock: FakeClock
) -> None:
    limits = {"rate_limits": RateLimitSettings(classes=CLASSES)}
    async with make_gateway(**routed(upstream, **limits), rate_limit_clock=clock) as gw:
        alice = bearer(gw.token(sub="cit_alice"))
        writes = [await gw.client.post("/v1/echo", headers=alice, json={}) for _ in range(2)]
        read = await gw.client.get("/v1/echo", headers=alice)
        delete = await gw.client.delete("/v1/echo", headers=alice)
    assert [w.status_code for w in writes] == [200, 429]
    assert writes[1].json()["rate_limit"]["class"] == "write"
    assert read.status_code == 200
    assert delete.status_code == 429


async def test_bad_tokens_are_counted_against_the_address_before_the_401(
    make_gateway: GatewayFactory, upstream: Upstream, clock: FakeClock
) -> None:
    limits = {"rate_limits": RateLimitSettings(classes=CLASSES)}
    async with make_gateway(**routed(upstream, **limits), rate_limit_clock=clock) as gw:
        settings = gw.runtime.settings
        forged = issue_access_token(
            KeyStore.generate(),
            sub="cit_alice",
            kind="citizen",
            ttl=60,
            issuer=settings.issuer,
            audience=settings.audience,
            now=datetime.now(UTC),
        )
        answers = [await gw.client.get("/v1/echo", headers=bearer(forged)) for _ in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 429]
    assert answers[0].headers["ratelimit-remaining"] == "1"
    assert answers[0].headers["content-type"] == "application/problem+json"
    assert answers[0].json()["detail"] == "token signed with an unknown key"
    assert upstream.hits == []


async def test_auth_endpoints_are_limited_per_address_and_probes_are_not(
    make_gateway: GatewayFactory, limit_settings: dict[str, Any], clock: FakeClock
) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    async with make_gateway(**limit_settings, rate_limit_clock=clock) as gw:
        tries = [
            await gw.client.post("/auth/token", content="grant_type=password", headers=form)
            for _ in range(3)
        ]
        async with gw.client_at("203.0.113.50") as elsewhere:
            other = await elsewhere.post("/auth/token", content="grant_type=password", headers=form)
        probes = [await gw.client.get("/healthz") for _ in range(5)]
        jwks = await gw.client.get("/.well-known/jwks.json")
        clock.advance(2)
        later = await gw.client.post("/auth/token", content="grant_type=password", headers=form)

    assert [t.status_code for t in tries] == [400, 400, 429]  # the form was bad: 400 until then
    assert tries[0].headers["ratelimit-limit"] == "2"
    assert tries[2].headers["retry-after"] == "2"
    assert tries[2].json()["rate_limit"] == {
        "class": "auth",
        "key": "ip",
        "burst": 2,
        "rate_per_second": 0.5,
    }
    assert other.status_code == 400
    assert [p.status_code for p in probes] == [200] * 5
    assert "ratelimit-limit" not in probes[0].headers
    assert jwks.status_code == 200
    assert later.status_code == 400


async def test_forwarded_addresses_count_only_behind_a_trusted_proxy(
    make_gateway: GatewayFactory, upstream: Upstream, clock: FakeClock
) -> None:
    limits = {"rate_limits": RateLimitSettings(classes=CLASSES)}
    for trusted, expected in ((True, [200, 200, 200, 200]), (False, [200, 200, 429, 429])):
        async with make_gateway(
            **routed(upstream, trust_forwarded_headers=trusted, **limits), rate_limit_clock=clock
        ) as gw:
            statuses = [
                (await gw.client.get("/v1/echo", headers={"X-Forwarded-For": ip})).status_code
                for ip in ("192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.2")
            ]
        assert statuses == expected


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_redis_lets_requests_through_with_a_warning(
    make_gateway: GatewayFactory, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    settings = routed(
        upstream,
        redis_url=f"redis://127.0.0.1:{_closed_port()}/0",
        rate_limits=RateLimitSettings(classes=CLASSES),
    )
    with caplog.at_level(logging.WARNING, logger="cityhall.gateway.rate_limit"):
        async with make_gateway(**settings) as gw:
            answers = [await gw.client.get("/v1/echo") for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5  # per-IP burst is 2: not enforced
    assert "ratelimit-limit" not in answers[0].headers
    messages = [r.getMessage() for r in caplog.records]
    assert any("not reachable" in m for m in messages)  # at start
    assert any("failing open" in m for m in messages)  # on the first request


async def test_rate_limits_can_be_switched_off(
    make_gateway: GatewayFactory, upstream: Upstream
) -> None:
    off = RateLimitSettings(enabled=False, classes=CLASSES)
    async with make_gateway(**routed(upstream, rate_limits=off)) as gw:
        answers = [await gw.client.get("/v1/echo") for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert "ratelimit-limit" not in answers[0].headers
