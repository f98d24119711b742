"""Token-bucket arithmetic shared by both backends, and what one check decides.

A bucket holds up to `burst` tokens and gains `rate` tokens per second; a request takes one.
A bucket that has refilled to `burst` carries no information, so either backend may forget it
then (the in-memory one evicts it, Redis lets the key expire).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from gateway.rate_limit.settings import RateLimitRule, RouteClass

# Refill arithmetic in floating point may land a hair under a whole token.
EPSILON = 1e-9

KeyKind = Literal["principal", "ip"]


def refilled(tokens: float, stamp: float, now: float, rule: RateLimitRule) -> float:
    """Tokens in a bucket last left at `tokens` at `stamp`, as of `now`."""
    return min(float(rule.burst), tokens + max(0.0, now - stamp) * rule.rate)


def take_one(tokens: float) -> tuple[bool, float]:
    """Whether a request may pass, and the tokens left after it."""
    if tokens >= 1.0 - EPSILON:
        return True, max(0.0, tokens - 1.0)
    return False, tokens


def seconds_until_full(tokens: float, rule: RateLimitRule) -> float:
    return max(0.0, (rule.burst - tokens) / rule.rate)


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one check and what the client is told about it."""

    allowed: bool
    tokens: float
    rule: RateLimitRule
    route_class: RouteClass
    key_kind: KeyKind

    @property
    def remaining(self) -> int:
        return max(0, math.floor(self.tokens + EPSILON))

    @property
    def reset_seconds(self) -> int:
        """Until the bucket is full again (the quota fully "resets")."""
        return math.ceil(seconds_until_full(self.tokens, self.rule) - EPSILON)

    @property
    def retry_after(self) -> int:
        """Whole seconds until one token is back; at least 1 (only meaningful when refused)."""
        missing = max(0.0, 1.0 - self.tokens)
        return max(1, math.ceil(missing / self.rule.rate - EPSILON))

    def headers(self) -> list[tuple[bytes, bytes]]:
        """RateLimit-* as in draft-ietf-httpapi-ratelimit-headers (-07): limit, remaining,
        and delta-seconds until the quota is whole again; the policy as burst;w=window."""
        window = max(1, math.ceil(self.rule.burst / self.rule.rate))
        return [
            (b"ratelimit-limit", str(self.rule.burst).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(self.reset_seconds).encode()),
            (b"ratelimit-policy", f"{self.rule.burst};w={window}".encode()),
        ]

    def describe(self) -> str:
        who = "principal" if self.key_kind == "principal" else "client address"
        return (
            f"rate limit for {self.route_class} requests per {who} exceeded "
            f"({self.rule.burst} at once, {self.rule.rate:g} per second); "
            f"retry in {self.retry_after} s"
        )
