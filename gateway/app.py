"""`create_app`: the gateway's FastAPI app with the proxy installed in front of it.

Request path: SecurityHeadersMiddleware (nosniff, page framing and referrer headers) → CORS
(preflights; allowed origins' headers on every answer) → AccessAuditMiddleware (queues an
access record) → ServerErrorGuard (a 500
problem for anything unexpected) → RateLimitMiddleware (auth
endpoints and proxied requests; verifies bearer tokens of the latter) → ProxyMiddleware
(routed prefixes go to their service) → FastAPI's stack, for the gateway's own routes only:
RequestContextMiddleware (request id, access log, body limit) → routes. The lifespan opens the
database (and migrates it), loads or creates the signing keys, opens a keep-alive
connection pool per upstream service and the rate limiter's buckets (memory or Redis).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.audit_log.access import AccessAuditMiddleware
from gateway.audit_log.store import AuditLog
from gateway.cors import with_cors
from gateway.idp import routes as idp_routes
from gateway.idp.service import IdentityProvider
from gateway.keys import KeyStore
from gateway.portal.routes import install_portal
from gateway.proxy import ProxyMiddleware
from gateway.rate_limit.middleware import RateLimitMiddleware
from gateway.rate_limit.setup import rate_limiter
from gateway.routes import (
    api_docs,
    audit,
    audit_ingest,
    jpki_public,
    oauth,
    operations,
    revocations,
    simulation,
)
from gateway.routing import RouteTable
from gateway.runtime import GatewayRuntime
from gateway.server_errors import ServerErrorGuard
from gateway.settings import GatewaySettings
from gateway.upstream_http.pool import ConnectionPool
from gateway.upstreams import AsgiUpstream, HttpUpstream, Upstream
from services.kit.auth import TokenVerifier
from services.kit.db import Database
from services.kit.docs import docs_router, install_docs_assets
from services.kit.exposure import docs_enabled
from services.kit.method_guard import LiteralPathGuard
from services.kit.metrics import Metrics
from services.kit.middleware import RequestContextMiddleware
from services.kit.migrate import upgrade
from services.kit.openapi import PROBLEM_RESPONSES, install_security_openapi
from services.kit.problems import install_problem_handlers
from services.kit.security_headers import SecurityHeadersMiddleware
from services.kit.shared_clock import ClockFollower

log = logging.getLogger("cityhall.gateway")

MIGRATIONS = Path(__file__).parent / "migrations"


def _connection_pool(settings: GatewaySettings, base_url: str) -> ConnectionPool:
    url = urlsplit(base_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"upstream URL {base_url!r}: expected http(s)://host[:port]")
    tls = ssl.create_default_context() if url.scheme == "https" else None
    return ConnectionPool(
        url.hostname,
        url.port or (443 if tls else 80),
        tls=tls,
        limit=settings.upstream_pool_limit_per_host,
        keepalive_seconds=settings.upstream_keepalive_seconds,
        connect_timeout=settings.upstream_connect_timeout_seconds,
    )


class GatewayApp(FastAPI):
    """FastAPI with the gateway's pure-ASGI layers in front of all of it: a proxied request
    passes the access audit, the rate limiter and the proxy only, never FastAPI's own layers
    (telemetry, server errors, body limits; ~10 µs a request). Requests for the gateway's own
    routes continue into the whole FastAPI stack."""

    front: ASGIApp | None = None  # set by create_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.front is not None:
            await self.front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own stack: the gateway's routes and their middleware."""
        await super().__call__(scope, receive, send)


def _lifespan(
    runtime: GatewayRuntime,
    upstream_apps: Mapping[str, ASGIApp],
    idp: IdentityProvider,
    rate_limit_clock: Callable[[], float] | None,
) -> Callable[[FastAPI], Any]:
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database_url, pool_size=settings.db_pool_size)
        pools: list[ConnectionPool] = []
        audit_log: AuditLog = app.state.audit_log
        resources = AsyncExitStack()
        try:
            if settings.migrate_on_start:
                await upgrade(db.engine, MIGRATIONS, include_kit=False)
            keystore = await asyncio.to_thread(KeyStore.load_or_create, settings.keys_path)
            await idp.start(db, audit_log)
            upstreams: dict[str, Upstream] = {}
            for name, base_url in settings.upstreams.items():
                if name in upstream_apps:
                    upstreams[name] = AsgiUpstream(name, upstream_apps[name])
                else:
                    pools.append(_connection_pool(settings, base_url))
                    upstreams[name] = HttpUpstream(
                        name,
                        base_url,
                        pools[-1],
                        response_timeout=settings.upstream_timeout_seconds,
                        read_timeout=settings.upstream_read_timeout_seconds,
                    )
            await audit_log.start(db)
            runtime.rate_limiter = await resources.enter_async_context(
                rate_limiter(settings, rate_limit_clock)
            )
            runtime.db = db
            runtime.keystore = keystore
            runtime.upstreams = upstreams
            runtime.openapi.clear()
            runtime.verifier = TokenVerifier(
                keystore,
                issuer=settings.issuer,
                audience=settings.audience,
                is_revoked=idp.ctx.is_revoked,  # the revocation list (services.kit.revocation)
            )
            app.state.db = db
            app.state.clock = runtime.clock
            app.state.verifier = runtime.verifier
            if settings.simulation:  # every replica keeps the one simulated time
                follower = ClockFollower(db, runtime.clock, settings.clock_poll_seconds)
                await follower.refresh()
                follower.start()
                resources.push_async_callback(follower.stop)
            log.info("gateway ready; routes to %s", ", ".join(sorted(upstreams)))
            yield
        finally:
            runtime.verifier = None
            runtime.upstreams = {}
            runtime.rate_limiter = None
            await resources.aclose()
            await audit_log.stop()  # writes the queued access records, signs the head
            await idp.stop()
            for pool in pools:
                pool.close()
            await db.dispose()

    return lifespan


def create_app(
    settings: GatewaySettings | None = None,
    *,
    upstream_apps: Mapping[str, ASGIApp] | None = None,
    rate_limit_clock: Callable[[], float] | None = None,
) -> FastAPI:
    """The gateway. `upstream_apps` (single-process mode) maps a service name to its ASGI
    app, called in-process instead of over HTTP; the caller runs those apps' lifespans.
    `rate_limit_clock` (seconds) replaces the rate limiter's time source (tests)."""
    settings = settings or GatewaySettings()
    metrics = Metrics("gateway")
    runtime = GatewayRuntime(settings=settings, routes=RouteTable(settings.routes), metrics=metrics)
    idp = IdentityProvider(settings, runtime)
    app = GatewayApp(
        title="cityhall gateway",
        description="The single front door of the cityhall suite: tokens, routing, audit.",
        version="0.1.0",
        lifespan=_lifespan(runtime, dict(upstream_apps or {}), idp, rate_limit_clock),
        responses=PROBLEM_RESPONSES,
        openapi_url=None,  # /openapi.json is the merged document (routes/api_docs.py)
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.service_name = "gateway"
    app.state.audit_log = audit_log = AuditLog(
        settings.audit, default_key_path=settings.var_dir / "gateway" / "audit-key.json"
    )
    app.state.idp = idp
    install_problem_handlers(app)
    install_security_openapi(app)  # the token endpoint is this app's own /auth/token
    for router in (
        operations.router,
        oauth.router,
        idp_routes.router,
        jpki_public.router,
        audit_ingest.router,
        revocations.router,
        audit.router,
        simulation.router,
    ):
        app.include_router(router)
    if docs_enabled(settings):  # production: off unless `api_docs` turns them on
        app.include_router(api_docs.router)
        install_docs_assets(app)
        app.include_router(docs_router(title="cityhall API"))
    install_portal(app)
    app.add_middleware(LiteralPathGuard)
    app.add_middleware(
        RequestContextMiddleware,
        service="gateway",
        metrics=metrics,
        max_body_bytes=settings.max_body_bytes,
        log_access=settings.log_access,
    )
    proxy = ProxyMiddleware(app.framework, runtime=runtime)
    guarded = ServerErrorGuard(RateLimitMiddleware(proxy, runtime=runtime))
    audited = AccessAuditMiddleware(guarded, runtime=runtime, audit=audit_log)
    # Outermost: headers on proxied answers, preflights, 429s and 500s alike.
    app.front = SecurityHeadersMiddleware(with_cors(audited, settings))
    return app
