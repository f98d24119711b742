"""Fixtures for payments_mock's API tests: the real app on SQLite (and PostgreSQL when
configured), real signed tokens, and a harness that moves the simulation clock and ticks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from services.kit.app import RuntimeOptions, ServiceRuntime
from services.payments_mock.app import create_app
from services.payments_mock.settings import Settings
from tests.support.apps import running
from tests.support.tokens import TokenFactory

CLIENT = "svc-e_application"
OTHER = "svc-facility_booking"
ALL_SCOPES = ("payments:read", "payments:write", "webhooks:manage")


@dataclass
class Payments:
    app: FastAPI
    client: httpx.AsyncClient
    tokens: TokenFactory

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime

    def auth(self, sub: str = CLIENT, scopes: tuple[str, ...] = ALL_SCOPES) -> dict[str, str]:
        return self.tokens.service(sub, *scopes)

    async def create(
        self, sub: str = CLIENT, key: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"amount": 4500, "method": "konbini", "description": "住民票の写し"}
        body.update(fields)
        headers = self.auth(sub)
        if key is not None:
            headers["Idempotency-Key"] = key
        response = await self.client.post("/v1/payments", json=body, headers=headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def get(self, payment_id: str, sub: str = CLIENT) -> dict[str, Any]:
        response = await self.client.get(f"/v1/payments/{payment_id}", headers=self.auth(sub))
        assert response.status_code == 200, response.text
        payment: dict[str, Any] = response.json()
        return payment

    async def pay_konbini(
        self, payment: dict[str, Any], chain: str = "lawson", **extra: Any
    ) -> httpx.Response:
        store = next(s for s in payment["konbini"]["stores"] if s["chain"] == chain)
        body = {
            "chain": chain,
            "payment_code": store["payment_code"],
            "confirmation_number": store["confirmation_number"],
            **extra,
        }
        return await self.client.post(
            "/v1/simulate/konbini/payments", json=body, headers=self.auth()
        )

    async def advance(self, delta: timedelta) -> None:
        response = await self.client.post(
            "/sim/clock",
            json={"advance_seconds": delta.total_seconds()},
            headers=self.tokens.service("svc-gateway", "sim"),  # as the gateway's /sim/clock
        )
        assert response.status_code == 200, response.text

    async def tick(self, *, force: bool = False) -> dict[str, Any]:
        response = await self.client.post(
            "/sim/tick", params={"force": str(force).lower()}, headers=self.tokens.admin()
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def events(self, payment_id: str) -> list[str]:
        response = await self.client.get(f"/v1/payments/{payment_id}/events", headers=self.auth())
        assert response.status_code == 200, response.text
        return [e["type"] for e in response.json()["items"]]


def make_app(db_url: str, tokens: TokenFactory, **settings: Any) -> FastAPI:
    return create_app(
        Settings(database_url=db_url, environment="test", log_access=False, **settings),
        RuntimeOptions(key_source=tokens.key_source(), background=False),
    )


@pytest.fixture
async def payments(db_url: str, tokens: TokenFactory) -> AsyncIterator[Payments]:
    app = make_app(db_url, tokens)
    async with running(app) as client:
        yield Payments(app, client, tokens)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    accepted: bool


class Receiver:
    """A real HTTP server (aiohttp, on loopback) that webhooks are sent to. `down` makes it
    answer 503; `verify(secret)` checks every request with the standardwebhooks library."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.down = False
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(Received(dict(request.headers), body, accepted=not self.down))
        if self.down:
            return web.Response(status=503, text="down for maintenance")
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}/hooks"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def verified(self, secret: str) -> list[dict[str, Any]]:
        """Every request accepted (2xx) so far, verified; each event once (by webhook-id)."""
        seen: dict[str, dict[str, Any]] = {}
        for received in self.requests:
            if not received.accepted:
                continue
            event: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
            seen.setdefault(received.headers["webhook-id"], event)
        return list(seen.values())


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
