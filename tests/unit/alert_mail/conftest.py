"""Fixtures for alert_mail's tests: the real app on SQLite (and PostgreSQL when configured)
with the demo city's categories and districts, real signed tokens, and a real SMTP sink."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from deploy.mailsink import MailSink
from services.alert_mail.app import create_app
from services.alert_mail.seed import seed
from services.alert_mail.settings import Settings
from services.kit.app import RuntimeOptions, ServiceRuntime
from tests.support.apps import running
from tests.support.tokens import TokenFactory

CITY_FILE = Path(__file__).parents[3] / "deploy" / "seed" / "demo_city.json"
PUBLIC_URL = "http://city.test"

# What a browser following a mailed link sends: pages, also for errors.
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def demo_city() -> dict[str, Any]:
    city: dict[str, Any] = json.loads(CITY_FILE.read_text(encoding="utf-8"))
    return city


@dataclass
class AlertMail:
    """The running service, its sink and helpers for moving its clock."""

    app: FastAPI
    client: httpx.AsyncClient
    tokens: TokenFactory
    sink: MailSink

    @property
    def runtime(self) -> ServiceRuntime:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime

    @property
    def settings(self) -> Settings:
        settings: Settings = self.app.state.settings
        return settings

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


def make_app(
    db_url: str, tokens: TokenFactory, sink: MailSink, *, background: bool = True, **settings: Any
) -> FastAPI:
    """`background=True` runs the sending workers in-process, as `cityhall up` does."""
    values: dict[str, Any] = {
        "database_url": db_url,
        "environment": "test",
        "log_access": False,
        "smtp_host": sink.host,
        "smtp_port": sink.port,
        "public_url": PUBLIC_URL,
    }
    values.update(settings)
    return create_app(
        Settings(**values),
        RuntimeOptions(key_source=tokens.key_source(), background=background),
    )


async def seed_demo_city(app: FastAPI) -> None:
    runtime: ServiceRuntime = app.state.runtime
    async with runtime.db.session(write=True) as session:
        await seed(session, demo_city())


@pytest.fixture
async def sink() -> AsyncIterator[MailSink]:
    async with MailSink(port=0) as server:
        yield server


@pytest.fixture
async def alert_mail(db_url: str, tokens: TokenFactory, sink: MailSink) -> AsyncIterator[AlertMail]:
    app = make_app(db_url, tokens, sink)
    async with running(app) as client:
        await seed_demo_city(app)
        yield AlertMail(app, client, tokens, sink)
