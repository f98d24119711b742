"""Fixtures of the identity provider tests: a gateway on a tmp_path SQLite database whose mail
goes to a real SMTP sink, with argon2 made cheap (the production parameters are the
settings' defaults and are tested on their own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.mailsink import MailSink
from gateway.app import create_app
from tests.unit.gateway_app.support import Gateway, gateway_settings


@pytest.fixture
async def sink() -> AsyncIterator[MailSink]:
    async with MailSink(port=0) as running:
        yield running


IdpGatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def make_idp_gateway(tmp_path: Path, sink: MailSink) -> IdpGatewayFactory:
    @asynccontextmanager
    async def build(**overrides: Any) -> AsyncIterator[Gateway]:
        values: dict[str, Any] = {
            "smtp_host": "127.0.0.1",
            "smtp_port": sink.port,
            "public_url": "http://gateway.test",
            "password_hash_memory_kib": 64,
            "password_hash_time_cost": 1,
        }
        values.update(overrides)
        app = create_app(gateway_settings(tmp_path, **values))
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client,
        ):
            yield Gateway(app, client)

    return build


@pytest.fixture
async def gw(make_idp_gateway: IdpGatewayFactory) -> AsyncIterator[Gateway]:
    async with make_idp_gateway() as gateway:
        yield gateway
