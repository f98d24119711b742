"""CORS at the gateway: preflights for routed and own paths, the headers a page may read on
actual answers (proxied, the gateway's own, refusals), explicit origins, production closed."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from gateway.cors import cors_policy
from gateway.settings import GatewaySettings, ServiceClientConfig

from .support import GatewayFactory, json_app

PAGE = "http://localhost:5173"


def things() -> dict[str, Any]:
    async def handler(info: dict[str, Any]) -> tuple[int, Any]:
        return 201, {"ok": True}

    return {
        "upstream_apps": {"things": json_app(handler)},
        "upstreams": {"things": "http://127.0.0.1:9"},
        "routes": {"/v1/things": "things"},
    }


def preflight(
    method: str = "POST", headers: str = "authorization, idempotency-key, content-type"
) -> dict[str, str]:
    return {
        "Origin": PAGE,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


@pytest.mark.parametrize(
    "path", ["/v1/things", "/v1/things/abc/cancel", "/auth/token", "/sim/clock"]
)
async def test_preflight_is_answered_for_every_path(
    make_gateway: GatewayFactory, path: str
) -> None:
    async with make_gateway(**things()) as gw:
        response = await gw.client.options(path, headers=preflight())
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == PAGE
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"authorization", "idempotency-key", "content-type"} <= allowed
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "Origin" in response.headers["vary"]


async def test_actual_requests_expose_the_headers_a_client_reads(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway(**things()) as gw:
        token = gw.token()
        proxied = await gw.client.post(
            "/v1/things", json={}, headers={"Origin": PAGE, "Authorization": f"Bearer {token}"}
        )
        own = await gw.client.get("/.well-known/jwks.json", headers={"Origin": PAGE})
        refused = await gw.client.post(
            "/v1/things", json={}, headers={"Origin": PAGE, "Authorization": "Bearer forged"}
        )
    assert proxied.status_code == 201
    for answer in (proxied, own, refused):
        assert answer.headers["access-control-allow-origin"] == PAGE
        exposed = {
            h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")
        }
        assert {
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
            "ratelimit-policy",
            "retry-after",
            "location",
            "x-request-id",
            "idempotent-replayed",
        } <= exposed
    assert refused.status_code == 401  # a page can read why it was refused
    assert "ratelimit-remaining" in proxied.headers


async def test_other_origins_are_refused(make_gateway: GatewayFactory) -> None:
    async with make_gateway(**things()) as gw:
        evil = {**preflight(), "Origin": "https://evil.example"}
        refused = await gw.client.options("/v1/things", headers=evil)
        actual = await gw.client.get(
            "/.well-known/jwks.json", headers={"Origin": "https://evil.example"}
        )
        lookalike = await gw.client.options(
            "/v1/things", headers={**preflight(), "Origin": "http://localhost.evil.example"}
        )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "origin" in refused.json()["detail"]
    assert "access-control-allow-origin" not in refused.headers
    assert "access-control-allow-origin" not in actual.headers
    assert lookalike.status_code == 403


async def test_explicit_origins_replace_the_default(make_gateway: GatewayFactory) -> None:
    site = "https://portal.city.example.jp"
    async with make_gateway(cors_allow_origins=[site], **things()) as gw:
        ok = await gw.client.options("/v1/things", headers={**preflight(), "Origin": site})
        local = await gw.client.options("/v1/things", headers=preflight())
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == site
    assert local.status_code == 403


def production(**overrides: Any) -> GatewaySettings:
    clients = {"svc-x": ServiceClientConfig(secret=SecretStr("s3cret-from-vault"))}
    return GatewaySettings(
        environment="production",
        simulation=False,
        service_clients=clients,
        idp_secret=SecretStr("idp-secret-from-vault"),
        **overrides,
    )


def test_production_is_closed_unless_origins_are_named() -> None:
    assert cors_policy(production()).closed
    assert not cors_policy(GatewaySettings()).closed  # simulation: this machine's origins
    named = cors_policy(production(cors_allow_origins=["https://portal.city.example.jp"]))
    assert named.origins == ("https://portal.city.example.jp",)
    assert named.origin_regex is None
    with pytest.raises(ValidationError, match="refused in production"):
        production(cors_allow_origins=["*"])


async def test_closed_gateway_answers_no_cors_headers(make_gateway: GatewayFactory) -> None:
    async with make_gateway(simulation=False, **things()) as gw:
        pre = await gw.client.options("/v1/things", headers=preflight())
        actual = await gw.client.get("/.well-known/jwks.json", headers={"Origin": PAGE})
    assert not any(k.startswith("access-control-") for k in pre.headers)
    assert not any(k.startswith("access-control-") for k in actual.headers)
