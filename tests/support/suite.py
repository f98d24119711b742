"""The whole suite in one event loop: the four services in-process behind the gateway (they
reach it for JWKS and tokens through an ASGI transport), seeded with the demo city's data
and the demo identities."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from deploy.provision import seed_identities, seed_service
from deploy.stack import DEMO_CITY
from gateway.app import create_app as gateway_app
from gateway.rate_limit.settings import RateLimitSettings
from gateway.settings import GatewaySettings
from services.kit.app import RuntimeOptions
from tests.support.services import SERVICES

GATEWAY = "http://gateway.test"


class Later:
    """An ASGI app set after it is handed out: the services reach the gateway (JWKS, tokens)
    through it, and the gateway is built with the services."""

    app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)


@dataclass
class InProcessSuite:
    gateway: FastAPI

    def http(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(self.gateway, raise_app_exceptions=False)
        return httpx.AsyncClient(transport=transport, base_url=GATEWAY)


@asynccontextmanager
async def in_process_suite(
    tmp_path: Path, var_dir: Path | None = None
) -> AsyncIterator[InProcessSuite]:
    later = Later()
    options = RuntimeOptions(
        http_transport=httpx.ASGITransport(later, raise_app_exceptions=False), background=False
    )
    apps: dict[str, FastAPI] = {}
    city = json.loads(DEMO_CITY.read_text(encoding="utf-8"))
    for name, build in SERVICES.items():
        url = f"sqlite+aiosqlite:///{tmp_path / name}.db"
        await seed_service(name, url, city)
        apps[name] = build(url, options)
    settings = GatewaySettings(
        var_dir=var_dir or tmp_path / "gateway",
        log_access=False,
        password_hash_memory_kib=64,
        password_hash_time_cost=1,
        rate_limits=RateLimitSettings(enabled=False),
    )
    await seed_identities(settings)
    gateway = gateway_app(settings, upstream_apps=apps)
    later.app = gateway
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(gateway.router.lifespan_context(gateway))
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        yield InProcessSuite(gateway)
