"""The real suite around a tiny fee-charging service: the gateway (tokens by client
credentials, routing), payments_mock and alert_mail, each served by uvicorn on loopback, and
the demo service receiving payments_mock's signed webhooks over HTTP. Every database is real
(SQLite files, or PostgreSQL databases when configured); every token is signed by the
gateway. Servers can be stopped and started again on the same port, which is how a service
is "down" here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.types import Receive, Scope, Send

from deploy.mailsink import MailSink
from deploy.serve import Server, server_config
from gateway.app import create_app as gateway_app
from gateway.rate_limit.settings import RateLimitSettings
from gateway.settings import (
    GatewaySettings,
    ServiceClientConfig,
    default_routes,
    default_service_clients,
)
from services.alert_mail.app import create_app as alert_mail_app
from services.alert_mail.notifications_service import upsert_seed_templates
from services.alert_mail.settings import Settings as AlertMailSettings
from services.kit.app import RuntimeOptions, ServiceRuntime
from services.kit.payments import (
    Payment,
    PaymentsClient,
    PaymentsRuntime,
    idempotency_key,
    payments_runtime,
)
from services.kit.settings import ServiceSettings, dev_secret
from services.payments_mock.app import create_app as payments_mock_app
from services.payments_mock.settings import Settings as PaymentsSettings
from tests.support.apps import started
from tests.support.databases import backends, database_url
from tests.unit.kit_payments.demo_service import Handler, applied, create_demo_app, fees

DEMO_CLIENT = "svc-kitdemo"
DEMO_SCOPES = [
    "audit:write",
    "payments:write",
    "payments:read",
    "webhooks:manage",
    "notifications:send",
]


class Served:
    """A real uvicorn server on 127.0.0.1 for `app` (set before the first request; the URL
    is known before the app is built, so apps can name each other). `stop()` closes the
    port; `start()` opens the same port again."""

    def __init__(self) -> None:
        self.app: Any = None
        self.port = 0
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no app behind this server yet"
        await self.app(scope, receive, send)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        if self._server is not None:
            return  # already serving
        server = Server(server_config(self, "127.0.0.1", self.port, lifespan="off"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped while starting")
            await asyncio.sleep(0.01)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        self._server, self._task = server, task

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None


@dataclass
class Suite:
    gateway: Served
    payments: Served
    alert_mail: Served
    demo: Served
    handler: Handler
    sink: MailSink
    tmp_path: Path
    databases: dict[str, str]

    @staticmethod
    def runtime_of(served: Served) -> ServiceRuntime:
        runtime: ServiceRuntime = served.app.state.runtime
        return runtime

    @property
    def demo_runtime(self) -> ServiceRuntime:
        return self.runtime_of(self.demo)

    @property
    def payments_runtime(self) -> ServiceRuntime:
        return self.runtime_of(self.payments)

    @property
    def kit(self) -> PaymentsRuntime:
        return payments_runtime(self.demo_runtime)

    @property
    def client(self) -> PaymentsClient:
        return self.kit.client

    async def headers(self) -> dict[str, str]:
        """The demo service's own gateway token, for calls the kit does not wrap."""
        return {"Authorization": f"Bearer {await self.demo_runtime.service_token.token()}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.gateway.url, timeout=30) as http:
            return await http.request(method, path, headers=await self.headers(), **kwargs)

    async def register(self) -> None:
        assert await self.kit.registrar.ensure()

    async def charge(self, fee_id: str, **fields: Any) -> Payment:
        """What a service does: create the payment with a key from its record, keep its id."""
        values: dict[str, Any] = {
            "amount": 300,
            "method": "konbini",
            "description": "証明書交付手数料（デモ）",
            "reference": fee_id,
            "metadata": {"fee_id": fee_id},
        }
        values.update(fields)
        payment = await self.client.create_payment(
            idempotency_key=idempotency_key(fee_id, "fee"), **values
        )
        async with self.demo_runtime.db.session() as session:
            conn = await session.connection()
            await conn.execute(
                fees.insert().values(id=fee_id, payment_id=payment.id, status=payment.status)
            )
        return payment

    async def pay_konbini(self, payment: Payment, chain: str = "lawson") -> None:
        assert payment.konbini is not None
        store = payment.konbini.store(chain)
        assert store is not None
        response = await self.call(
            "POST",
            "/v1/simulate/konbini/payments",
            json={
                "chain": chain,
                "payment_code": store.payment_code,
                "confirmation_number": store.confirmation_number,
            },
        )
        assert response.status_code == 200, response.text

    async def send_webhooks(self) -> int:
        """payments_mock's outbox relay: signs and POSTs every due webhook (and audit event)."""
        return await self.payments_runtime.relay.run_once()

    async def advance_payments_clock(self, delta: timedelta) -> None:
        self.payments_runtime.clock.advance(delta)

    async def fee_status(self, fee_id: str) -> str:
        async with self.demo_runtime.db.session(write=False) as session:
            conn = await session.connection()
            row = (await conn.execute(select(fees.c.status).where(fees.c.id == fee_id))).one()
        return str(row[0])

    async def applied_events(self, payment_id: str) -> list[tuple[str, str, str]]:
        """(event type, status, source) of every time the handler ran for the payment."""
        async with self.demo_runtime.db.session(write=False) as session:
            conn = await session.connection()
            rows = await conn.execute(
                select(applied.c.type, applied.c.status, applied.c.source)
                .where(applied.c.payment_id == payment_id)
                .order_by(applied.c.seq)
            )
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def applied_count(self, event_id: str) -> int:
        async with self.demo_runtime.db.session(write=False) as session:
            conn = await session.connection()
            query = select(func.count()).where(applied.c.event_id == event_id)
            return int((await conn.execute(query)).scalar_one())

    async def endpoints(self) -> list[dict[str, Any]]:
        response = await self.call("GET", "/v1/webhook-endpoints")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def deliveries(self, endpoint_id: str, event_type: str) -> list[dict[str, Any]]:
        response = await self.call(
            "GET",
            f"/v1/webhook-endpoints/{endpoint_id}/deliveries",
            params={"event_type": event_type},
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    @asynccontextmanager
    async def demo_instance(self, *, background: bool = False) -> AsyncIterator[FastAPI]:
        """Another life of the demo service on the same database and port (a restart)."""
        app = demo_app(self, background=background)
        async with app.router.lifespan_context(app):
            previous, self.demo.app = self.demo.app, app
            try:
                yield app
            finally:
                self.demo.app = previous


def demo_app(suite: Suite, *, background: bool = False) -> FastAPI:
    settings = ServiceSettings(
        service_name="kitdemo",
        environment="test",
        log_access=False,
        database_url=suite.databases["demo"],
        gateway_url=suite.gateway.url,
        port=suite.demo.port,
    )
    return create_demo_app(settings, suite.handler, RuntimeOptions(background=background))


@pytest.fixture(params=backends())
async def suite(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Suite]:
    async with AsyncExitStack() as stack:
        databases = {
            name: await stack.enter_async_context(
                database_url(request.param, tmp_path, name=name, prefix=f"cityhall_kitpay_{name}")
            )
            for name in ("payments", "alert_mail", "demo")
        }
        sink = await stack.enter_async_context(MailSink(port=0))
        servers = [Served() for _ in range(4)]
        for server in servers:
            await server.start()
            stack.push_async_callback(server.stop)
        gateway, payments, alert_mail, demo = servers
        suite = Suite(gateway, payments, alert_mail, demo, Handler(), sink, tmp_path, databases)

        upstreams = {"payments_mock": payments.url, "alert_mail": alert_mail.url}
        clients = default_service_clients()
        clients[DEMO_CLIENT] = ServiceClientConfig(secret=dev_secret("client"), scopes=DEMO_SCOPES)
        gateway.app = await stack.enter_async_context(
            started(
                gateway_app(
                    GatewaySettings(
                        environment="test",
                        var_dir=tmp_path / "gateway",
                        log_access=False,
                        upstreams=upstreams,
                        routes={p: s for p, s in default_routes().items() if s in upstreams},
                        service_clients=clients,
                        rate_limits=RateLimitSettings(enabled=False),
                    )
                )
            )
        )
        quiet = RuntimeOptions(background=False)
        payments.app = await stack.enter_async_context(
            started(
                payments_mock_app(
                    PaymentsSettings(
                        environment="test",
                        log_access=False,
                        database_url=databases["payments"],
                        gateway_url=gateway.url,
                    ),
                    quiet,
                )
            )
        )
        alert_mail.app = await stack.enter_async_context(
            started(
                alert_mail_app(
                    AlertMailSettings(
                        environment="test",
                        log_access=False,
                        database_url=databases["alert_mail"],
                        gateway_url=gateway.url,
                        smtp_host=sink.host,
                        smtp_port=sink.port,
                    ),
                    quiet,
                )
            )
        )
        async with suite.runtime_of(alert_mail).db.session() as session:
            await upsert_seed_templates(
                session, "デモ市", now=suite.runtime_of(alert_mail).clock.now()
            )
        demo.app = await stack.enter_async_context(started(demo_app(suite)))
        yield suite
