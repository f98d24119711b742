"""`RateLimiter`: which bucket a request is counted against, and the check itself.

A request with a verified token is counted against its principal's bucket (`sub`), so the
staff of one office behind one address do not share a budget; one without a token against its
client address's (IPv6: its /64, which one subscriber usually holds whole). When the buckets
cannot be reached (Redis down) the request passes unchecked and a warning is logged, at most
every `WARN_EVERY_SECONDS`: an outage of the limiter must not become an outage of the city
hall.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from typing import Protocol

from gateway.rate_limit.bucket import Decision, KeyKind
from gateway.rate_limit.redis_buckets import BucketsUnavailable
from gateway.rate_limit.settings import RateLimitRule, RateLimitSettings, RouteClass
from services.kit.auth import Principal

log = logging.getLogger("cityhall.gateway.rate_limit")

WARN_EVERY_SECONDS = 30.0
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Buckets(Protocol):
    async def take(self, key: str, rule: RateLimitRule, now: float) -> tuple[bool, float]: ...


def address_key(ip: str) -> str:
    """The client address as counted: IPv4 whole, IPv6 by its /64."""
    if ":" not in ip:
        return ip
    try:
        network = ipaddress.IPv6Network(f"{ip}/64", strict=False)
    except ValueError:
        return ip
    return str(network.network_address)


def proxied_class(method: str) -> RouteClass:
    return "read" if method in _SAFE_METHODS else "write"


class RateLimiter:
    def __init__(
        self,
        settings: RateLimitSettings,
        buckets: Buckets,
        *,
        clock: Callable[[], float],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.buckets = buckets
        self.clock = clock
        self.auth_paths = frozenset(settings.auth_paths)
        self._classes = settings.classes
        self._monotonic = monotonic
        self._warned_at: float | None = None
        self._unchecked = 0

    def _bucket_of(
        self, route_class: RouteClass, principal: Principal | None, ip: str | None
    ) -> tuple[str, RateLimitRule, KeyKind] | None:
        limits = self._classes.get(route_class)
        if limits is None:
            return None
        if principal is not None and limits.per_principal is not None:
            return f"{route_class}:p:{principal.sub}", limits.per_principal, "principal"
        if limits.per_ip is not None and ip:
            return f"{route_class}:ip:{address_key(ip)}", limits.per_ip, "ip"
        return None

    async def check(
        self, route_class: RouteClass, principal: Principal | None, ip: str | None
    ) -> Decision | None:
        """The decision for one request, or None when it is not limited (or the buckets
        are unreachable)."""
        bucket = self._bucket_of(route_class, principal, ip)
        if bucket is None:
            return None
        key, rule, key_kind = bucket
        try:
            allowed, tokens = await self.buckets.take(key, rule, self.clock())
        except BucketsUnavailable as exc:
            self._warn_unchecked(exc)
            return None
        return Decision(allowed, tokens, rule, route_class, key_kind)

    def _warn_unchecked(self, exc: BucketsUnavailable) -> None:
        self._unchecked += 1
        now = self._monotonic()
        if self._warned_at is not None and now - self._warned_at < WARN_EVERY_SECONDS:
            return
        log.warning(
            "rate limits not enforced (failing open): %s; %d request(s) passed unchecked",
            exc,
            self._unchecked,
        )
        self._warned_at = now
        self._unchecked = 0
