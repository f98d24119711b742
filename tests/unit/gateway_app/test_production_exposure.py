"""In production the gateway hides /docs and the merged /openapi.json unless told otherwise,
and /metrics answers only the scraper's token."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from gateway.settings import ServiceClientConfig

from .support import GatewayFactory


def _production(**overrides: Any) -> dict[str, Any]:
    return {
        "environment": "production",
        "simulation": False,
        "service_clients": {"svc-x": ServiceClientConfig(secret=SecretStr("from-vault"))},
        "idp_secret": SecretStr("idp-secret-from-vault"),
        **overrides,
    }


async def test_production_gateway_hides_docs_and_metrics(make_gateway: GatewayFactory) -> None:
    async with make_gateway(**_production()) as gw:
        for path in ("/docs", "/openapi.json", "/metrics", "/redoc"):
            response = await gw.client.get(path)
            assert response.status_code == 404, path
            assert response.headers["content-type"] == "application/problem+json"
        assert (await gw.client.get("/healthz")).status_code == 200


async def test_production_gateway_metrics_need_the_token(make_gateway: GatewayFactory) -> None:
    overrides = _production(metrics_token=SecretStr("scrape-me"), api_docs=True)
    async with make_gateway(**overrides) as gw:
        assert (await gw.client.get("/metrics")).status_code == 401
        wrong = await gw.client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await gw.client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        assert right.status_code == 200
        assert "gateway" in right.text
        assert (await gw.client.get("/docs")).status_code == 200
        assert (await gw.client.get("/openapi.json")).status_code == 200


async def test_development_gateway_serves_docs_and_open_metrics(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        for path in ("/docs", "/openapi.json", "/metrics"):
            assert (await gw.client.get(path)).status_code == 200, path
