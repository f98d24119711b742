"""What a running gateway holds. Built by `create_app`, filled in by the lifespan, read by
the proxy middleware and by the gateway's own routes (as `app.state.runtime`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.keys import KeyStore
from gateway.openapi_merge import OpenAPICache
from gateway.rate_limit.limiter import RateLimiter
from gateway.routing import RouteTable
from gateway.settings import GatewaySettings
from gateway.tokens import issue_access_token
from gateway.upstreams import Upstream
from services.kit.auth import TokenVerifier
from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.errors import ServiceUnavailable
from services.kit.metrics import Metrics


@dataclass(slots=True)
class GatewayRuntime:
    settings: GatewaySettings
    routes: RouteTable
    metrics: Metrics
    clock: Clock = field(default_factory=Clock)
    openapi: OpenAPICache = field(default_factory=OpenAPICache)
    keystore: KeyStore | None = None
    verifier: TokenVerifier | None = None
    db: Database | None = None
    upstreams: dict[str, Upstream] = field(default_factory=dict)
    rate_limiter: RateLimiter | None = None

    def require_keystore(self) -> KeyStore:
        if self.keystore is None:
            raise ServiceUnavailable("the gateway is starting")
        return self.keystore

    def upstream(self, service: str) -> Upstream:
        upstream = self.upstreams.get(service)
        if upstream is None:
            raise ServiceUnavailable(f"{service} is not configured or the gateway is starting")
        return upstream

    def service_token(self) -> str:
        """The gateway's own service token (for the services' /sim endpoints), minted here."""
        settings = self.settings
        return issue_access_token(
            self.require_keystore(),
            sub=settings.service_identity,
            kind="service",
            scopes=settings.service_identity_scopes,
            ttl=min(settings.access_token_ttl_seconds, 300),
            issuer=settings.issuer,
            audience=settings.audience,
            now=datetime.now(UTC),
        )
