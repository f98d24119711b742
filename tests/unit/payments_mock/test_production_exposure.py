"""In production a service hides its API documents unless told otherwise, and /metrics
answers only the scraper's token (a service built by the kit: payments_mock)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from services.kit.app import RuntimeOptions
from services.payments_mock.app import create_app
from services.payments_mock.settings import Settings
from tests.support.apps import running
from tests.support.tokens import TokenFactory

DOCS = ("/docs", "/redoc", "/openapi.json")


def _production(db_url: str, **overrides: Any) -> Settings:
    return Settings(
        database_url=db_url,
        environment="production",
        simulation=False,
        log_access=False,
        client_secret=SecretStr("client-secret-from-vault"),
        code_secret=SecretStr("code-secret-from-vault"),
        **overrides,
    )


async def test_production_hides_docs_and_metrics(db_url: str, tokens: TokenFactory) -> None:
    options = RuntimeOptions(key_source=tokens.key_source(), background=False)
    async with running(create_app(_production(db_url), options)) as client:
        for path in (*DOCS, "/metrics"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/problem+json"
        assert (await client.get("/metrics", headers=tokens.admin())).status_code == 404
        assert (await client.get("/healthz")).status_code == 200


async def test_production_metrics_need_the_token(db_url: str, tokens: TokenFactory) -> None:
    options = RuntimeOptions(key_source=tokens.key_source(), background=False)
    settings = _production(db_url, metrics_token=SecretStr("scrape-me"), api_docs=True)
    async with running(create_app(settings, options)) as client:
        assert (await client.get("/metrics")).status_code == 401
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer scrape-you"})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"].startswith("Bearer")
        assert (await client.get("/metrics", headers=tokens.admin())).status_code == 401
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert right.status_code == 200
        assert "http_requests_total" in right.text
        for path in DOCS:  # turned on by the setting
            assert (await client.get(path)).status_code == 200, path


async def test_development_serves_docs_and_open_metrics(db_url: str, tokens: TokenFactory) -> None:
    options = RuntimeOptions(key_source=tokens.key_source(), background=False)
    settings = Settings(database_url=db_url, environment="development", log_access=False)
    async with running(create_app(settings, options)) as client:
        for path in (*DOCS, "/metrics"):
            assert (await client.get(path)).status_code == 200, path
