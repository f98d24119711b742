"""The whole suite for e_application's journey tests: the gateway (accounts, card login,
tokens, routing, CA and CRL), e_application, payments_mock and alert_mail, each served by
uvicorn on loopback, with a real SMTP sink. Citizens call the gateway only; the services
reach each other through it, and payments_mock posts signed webhooks to e_application."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import FastAPI

from deploy.mailsink import MailSink, StoredMessage
from gateway.app import create_app as gateway_app
from gateway.idp.jpki_client import Card
from gateway.idp.jpki_signing import fictional_info, issue_card_with_signing
from gateway.idp.jpki_signing_card import SigningCard
from gateway.rate_limit.settings import RateLimitSettings
from gateway.settings import GatewaySettings, default_routes
from gateway.tokens import issue_access_token
from services.alert_mail.app import create_app as alert_mail_app
from services.alert_mail.delivery.hooks import delivery_worker
from services.alert_mail.seed import seed as seed_alert_mail
from services.alert_mail.settings import Settings as AlertMailSettings
from services.e_application.app import create_app as e_application_app
from services.e_application.seed import seed as seed_e_application
from services.e_application.settings import Settings as EApplicationSettings
from services.kit.app import RuntimeOptions, ServiceRuntime
from services.kit.assurance import Acr
from services.kit.payments import payments_runtime
from services.payments_mock.app import create_app as payments_mock_app
from services.payments_mock.settings import Settings as PaymentsSettings
from tests.support.apps import started
from tests.support.databases import database_url
from tests.unit.e_application.support import demo_city
from tests.unit.kit_payments.conftest import Served

PASSWORD = "correct horse battery"


@dataclass
class Suite:
    gateway: Served
    e_application: Served
    payments: Served
    alert_mail: Served
    sink: MailSink
    http: httpx.AsyncClient  # to the gateway, as a front-end would call it

    @staticmethod
    def runtime(served: Served) -> ServiceRuntime:
        runtime: ServiceRuntime = served.app.state.runtime
        return runtime

    @property
    def eapp(self) -> ServiceRuntime:
        return self.runtime(self.e_application)

    def staff(self, sub: str, *roles: str, department: str = "shimin") -> dict[str, str]:
        """A staff token signed by the gateway's own key (the staff login itself, with TOTP,
        is the gateway's tests' business)."""
        gateway: FastAPI = self.gateway.app
        settings: GatewaySettings = gateway.state.settings
        token = issue_access_token(
            gateway.state.runtime.require_keystore(),
            sub=sub,
            kind="staff",
            roles=roles or ("staff",),
            department=department,
            acr=Acr.MFA,
            ttl=900,
            issuer=settings.issuer,
            audience=settings.audience,
            now=datetime.now(UTC),
        )
        return {"Authorization": f"Bearer {token}"}

    async def register_and_log_in(self, email: str) -> dict[str, str]:
        registered = await self.http.post(
            "/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": "市民 太郎"},
        )
        assert registered.status_code == 202, registered.text
        (message,) = await self.sink.wait_for(to=email)
        assert message.text is not None
        link = re.search(r"https?://\S+/auth/verify-email\?token=\S+", message.text)
        assert link is not None, message.text
        parts = urlsplit(link.group(0))
        page = await self.http.get(f"{parts.path}?{parts.query}")  # shows a button only
        assert page.status_code == 200, page.text
        token = parse_qs(parts.query)["token"][0]
        verified = await self.http.post("/auth/verify-email", json={"token": token})
        assert verified.status_code == 200, verified.text
        login = await self.http.post(
            "/auth/token",
            data={"grant_type": "password", "username": email, "password": PASSWORD},
        )
        assert login.status_code == 200, login.text
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    def issue_card(self, name: str) -> tuple[Card, SigningCard]:
        ca = self.gateway.app.state.idp.require_ca()
        issued = issue_card_with_signing(ca, fictional_info(name, sex="female"))
        return Card.from_pem(issued.file_text), SigningCard.from_pem(issued.file_text)

    async def card_login(self, card: Card) -> dict[str, str]:
        challenge = (await self.http.post("/auth/jpki/challenge")).json()
        response = await self.http.post(
            "/auth/jpki/token", json=card.token_request(challenge["nonce"])
        )
        assert response.status_code == 200, response.text
        assert response.json()["acr"] == "jpki"
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def service_headers(self) -> dict[str, str]:
        """e_application's own service token: the simulator acts on its payments only."""
        return {"Authorization": f"Bearer {await self.eapp.service_token.token()}"}

    async def deliver_mail(self) -> None:
        """e_application's outbox relay (audit events and notices), then alert_mail's
        sending worker."""
        await self.eapp.relay.run_once()
        await delivery_worker(self.alert_mail.app).run_once()

    async def send_webhooks(self) -> None:
        await self.runtime(self.payments).relay.run_once()

    async def mails(self, to: str, count: int) -> list[StoredMessage]:
        await self.deliver_mail()
        return await self.sink.wait_for(to=to, count=count)


@asynccontextmanager
async def whole_suite(backend: str, tmp_path: Path) -> AsyncIterator[Suite]:
    async with AsyncExitStack() as stack:
        databases = {
            name: await stack.enter_async_context(
                database_url(backend, tmp_path, name=name, prefix=f"cityhall_eapp_{name}")
            )
            for name in ("gateway", "e_application", "payments", "alert_mail")
        }
        sink = await stack.enter_async_context(MailSink(port=0))
        servers = [Served() for _ in range(4)]
        for server in servers:
            await server.start()
            stack.push_async_callback(server.stop)
        gateway, eapp, payments, alert_mail = servers
        upstreams = {
            "e_application": eapp.url,
            "payments_mock": payments.url,
            "alert_mail": alert_mail.url,
        }
        gateway.app = await stack.enter_async_context(
            started(
                gateway_app(
                    GatewaySettings(
                        environment="test",
                        var_dir=tmp_path / "gateway",
                        database_url=databases["gateway"],
                        log_access=False,
                        upstreams=upstreams,
                        routes={p: s for p, s in default_routes().items() if s in upstreams},
                        rate_limits=RateLimitSettings(enabled=False),
                        smtp_host=sink.host,
                        smtp_port=sink.port,
                        public_url=gateway.url,
                        password_hash_memory_kib=64,
                        password_hash_time_cost=1,
                    )
                )
            )
        )
        quiet = RuntimeOptions(background=False)
        common: dict[str, Any] = {"environment": "test", "log_access": False}
        payments.app = await stack.enter_async_context(
            started(
                payments_mock_app(
                    PaymentsSettings(
                        **common, database_url=databases["payments"], gateway_url=gateway.url
                    ),
                    quiet,
                )
            )
        )
        alert_mail.app = await stack.enter_async_context(
            started(
                alert_mail_app(
                    AlertMailSettings(
                        **common,
                        database_url=databases["alert_mail"],
                        gateway_url=gateway.url,
                        smtp_host=sink.host,
                        smtp_port=sink.port,
                    ),
                    quiet,
                )
            )
        )
        eapp.app = await stack.enter_async_context(
            started(
                e_application_app(
                    EApplicationSettings(
                        **common,
                        database_url=databases["e_application"],
                        gateway_url=gateway.url,
                        port=eapp.port,
                        var_dir=tmp_path / "e_application",
                        jpki_trust_ttl_seconds=0,
                    ),
                    quiet,
                )
            )
        )
        for app, seed in ((alert_mail.app, seed_alert_mail), (eapp.app, seed_e_application)):
            async with app.state.db.session() as session:
                await seed(session, demo_city())
        suite = Suite(gateway, eapp, payments, alert_mail, sink, httpx.AsyncClient())
        suite.http = await stack.enter_async_context(
            httpx.AsyncClient(base_url=gateway.url, timeout=30)
        )
        assert await payments_runtime(suite.eapp).registrar.ensure()
        yield suite
