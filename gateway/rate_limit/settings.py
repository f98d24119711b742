"""Rate limit settings (`GatewaySettings.rate_limits`; from the environment as JSON in
`GATEWAY_RATE_LIMITS`, e.g. `{"classes": {"read": {"per_principal": {"rate": 100,
"burst": 200}}}}`). The Redis backend is chosen by `GATEWAY_REDIS_URL`."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

RouteClass = Literal["auth", "write", "read"]
ROUTE_CLASSES: tuple[RouteClass, ...] = ("auth", "write", "read")


class RateLimitRule(BaseModel):
    """A token bucket: `burst` requests at once, refilled at `rate` per second."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float = Field(gt=0, le=1_000_000, description="tokens added per second")
    burst: int = Field(ge=1, le=1_000_000, description="bucket size: requests allowed at once")


class RouteClassLimits(BaseModel):
    """A request with a verified token is counted against its principal (`sub`); one without,
    or a class without `per_principal`, against its client address. None: not limited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_principal: RateLimitRule | None = None
    per_ip: RateLimitRule | None = None


def default_classes() -> dict[RouteClass, RouteClassLimits]:
    return {
        # Token, login, registration and e-mail link endpoints: guessing and mail bombing.
        "auth": RouteClassLimits(per_ip=RateLimitRule(rate=1, burst=30)),
        "write": RouteClassLimits(
            per_principal=RateLimitRule(rate=10, burst=40),
            per_ip=RateLimitRule(rate=5, burst=20),
        ),
        "read": RouteClassLimits(
            per_principal=RateLimitRule(rate=50, burst=200),
            per_ip=RateLimitRule(rate=20, burst=80),
        ),
    }


def default_auth_paths() -> list[str]:
    return [
        "/auth/token",
        "/auth/register",
        "/auth/verify-email",
        "/auth/password",
        "/auth/revoke",
        "/auth/email-login",
        "/auth/email-login/token",
        "/auth/jpki/challenge",
        "/auth/jpki/token",
    ]


class RateLimitSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    classes: dict[RouteClass, RouteClassLimits] = Field(default_factory=default_classes)
    auth_paths: list[str] = Field(
        default_factory=default_auth_paths,
        description="exact paths of class `auth`; proxied requests are `write` or `read`",
    )
    max_memory_buckets: int = Field(
        100_000, ge=100, description="in-memory backend: the least recently used go first"
    )
    redis_key_prefix: str = Field("cityhall:ratelimit:", min_length=1, max_length=100)
    redis_timeout_seconds: float = Field(0.25, gt=0, le=10, description="per Redis command")
    redis_retry_seconds: float = Field(
        1.0, gt=0, le=300, description="after a Redis failure, requests pass unchecked this long"
    )

    @model_validator(mode="after")
    def _auth_paths_are_paths(self) -> Self:
        for path in self.auth_paths:
            if not path.startswith("/"):
                raise ValueError(f"auth path {path!r} must start with /")
        return self
