"""`create_service_app`: the wiring every service shares (errors, middleware, ops endpoints,
lifespan with database, migrations, token verification, outbox relay and scheduler)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI

from services.kit.audit import AUDIT_TOPIC, AuditShipper
from services.kit.auth import KeySource, RemoteJWKS, TokenVerifier
from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.docs import install_docs
from services.kit.exposure import docs_enabled
from services.kit.http import build_client
from services.kit.idempotency import PURGE_JOB as IDEMPOTENCY_PURGE
from services.kit.jobs import Job, Scheduler
from services.kit.method_guard import LiteralPathGuard
from services.kit.metrics import Metrics
from services.kit.middleware import RequestContextMiddleware
from services.kit.migrate import upgrade
from services.kit.openapi import PROBLEM_RESPONSES, TOKEN_PATH, install_security_openapi
from services.kit.ops import ops_router
from services.kit.outbox import PURGE_JOB as OUTBOX_PURGE
from services.kit.outbox import OutboxHandler, OutboxRelay, TopicPolicy, enqueued_in
from services.kit.problems import install_problem_handlers
from services.kit.revocation import RevocationFeed, gateway_source
from services.kit.security_headers import SecurityHeadersMiddleware
from services.kit.service_token import ServiceTokenProvider
from services.kit.settings import ServiceSettings
from services.kit.shared_clock import ClockFollower

log = logging.getLogger("cityhall.app")

KIT_JOBS = (IDEMPOTENCY_PURGE, OUTBOX_PURGE)


@dataclass(slots=True)
class ServiceRuntime:
    """What a running service holds; lives on `app.state` for dependencies and jobs."""

    settings: ServiceSettings
    db: Database
    clock: Clock
    http: httpx.AsyncClient
    service_token: ServiceTokenProvider
    verifier: TokenVerifier
    relay: OutboxRelay
    scheduler: Scheduler
    extras: dict[str, Any] = field(default_factory=dict)
    background: bool = True  # RuntimeOptions.background: start hooks' own background tasks
    revocations: RevocationFeed | None = None  # the gateway's revocation list, polled
    clock_follower: ClockFollower | None = None  # simulation: the shared offset, polled


HandlerFactory = Callable[[ServiceRuntime], Mapping[str, OutboxHandler]]
Hook = Callable[[FastAPI, ServiceRuntime], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    title: str
    description: str
    settings: ServiceSettings
    routers: Sequence[APIRouter]
    migrations: Path
    version: str = "0.1.0"
    jobs: Sequence[Job] = ()
    outbox_handlers: HandlerFactory | None = None
    outbox_policies: Mapping[str, TopicPolicy] = field(default_factory=dict)  # per-topic backoff
    on_startup: Sequence[Hook] = ()
    on_shutdown: Sequence[Hook] = ()
    options: RuntimeOptions = field(default_factory=lambda: RuntimeOptions())


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    """What tests and the single-process launcher change about a service's surroundings."""

    key_source: KeySource | None = None  # default: the gateway's JWKS over HTTP
    http_transport: httpx.AsyncBaseTransport | None = None  # e.g. ASGITransport to the gateway
    background: bool = True  # run the outbox relay and the scheduler as background tasks


def _lifespan(spec: ServiceSpec) -> Callable[[FastAPI], Any]:
    settings = spec.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.database_url, pool_size=settings.db_pool_size)
        if settings.migrate_on_start:
            await upgrade(db.engine, spec.migrations)
        clock = Clock()
        follower = None
        if settings.simulation:  # start at the simulated time the other processes keep
            follower = ClockFollower(db, clock, settings.clock_poll_seconds)
            await follower.refresh()
        http = build_client(
            transport=spec.options.http_transport, user_agent=f"cityhall-{spec.name}"
        )
        service_token = ServiceTokenProvider(
            http,
            token_url=f"{settings.gateway_url}/auth/token",
            client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(),
        )
        keys = spec.options.key_source or RemoteJWKS(settings.jwks_url, http)
        revocations = None
        if settings.revocation_poll_seconds > 0:
            revocations = RevocationFeed(
                gateway_source(http, settings.gateway_url, service_token),
                interval=settings.revocation_poll_seconds,
                name=spec.name,
            )
        verifier = TokenVerifier(
            keys,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            is_revoked=revocations.is_revoked if revocations is not None else None,
        )
        runtime = ServiceRuntime(
            settings=settings,
            db=db,
            clock=clock,
            http=http,
            service_token=service_token,
            verifier=verifier,
            relay=None,  # type: ignore[arg-type]  # set below, the handlers need the runtime
            scheduler=None,  # type: ignore[arg-type]
            background=spec.options.background,
            revocations=revocations,
            clock_follower=follower,
        )
        handlers: dict[str, OutboxHandler] = {
            AUDIT_TOPIC: AuditShipper(http, settings.gateway_url, service_token, spec.name)
        }
        if spec.outbox_handlers is not None:
            handlers.update(spec.outbox_handlers(runtime))
        runtime.relay = OutboxRelay(
            db,
            clock,
            handlers,
            policies=spec.outbox_policies,
            batch_size=settings.outbox_batch_size,
            max_attempts=settings.outbox_max_attempts,
        )
        db.on_commit(lambda session: runtime.relay.wake() if enqueued_in(session) else None)
        runtime.scheduler = Scheduler(db, clock, [*KIT_JOBS, *spec.jobs], state=app.state)
        app.state.runtime = runtime
        app.state.db = db
        app.state.clock = clock
        app.state.verifier = verifier
        app.state.settings = settings
        for hook in spec.on_startup:
            await hook(app, runtime)
        if spec.options.background:
            runtime.relay.start()
            runtime.scheduler.start()
            if revocations is not None:
                revocations.start()
            if follower is not None:
                follower.start()
        log.info("%s ready on %s", spec.name, settings.database_url.split("@")[-1])
        try:
            yield
        finally:
            if revocations is not None:
                await revocations.stop()
            if follower is not None:
                await follower.stop()
            await runtime.scheduler.stop()
            await runtime.relay.stop()
            for hook in spec.on_shutdown:
                await hook(app, runtime)
            await http.aclose()
            await db.dispose()

    return lifespan


def create_service_app(spec: ServiceSpec) -> FastAPI:
    metrics = Metrics(spec.name)
    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version=spec.version,
        lifespan=_lifespan(spec),
        responses=PROBLEM_RESPONSES,
        openapi_url="/openapi.json" if docs_enabled(spec.settings) else None,
        docs_url=None,  # kit.docs: served without a CDN
        redoc_url=None,
    )
    install_security_openapi(app, token_url=f"{spec.settings.gateway_url}{TOKEN_PATH}")
    if docs_enabled(spec.settings):  # production: off unless `api_docs` turns them on
        install_docs(app, title=spec.title)
    app.state.metrics = metrics
    app.state.service_name = spec.name
    install_problem_handlers(app)
    app.include_router(ops_router(spec.settings))
    for router in spec.routers:
        app.include_router(router)
    app.add_middleware(LiteralPathGuard)  # inside the request id: its 405s carry one
    app.add_middleware(
        RequestContextMiddleware,
        service=spec.name,
        metrics=metrics,
        max_body_bytes=spec.settings.max_body_bytes,
        log_access=spec.settings.log_access,
    )
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: its 500s get the headers too
    return app
