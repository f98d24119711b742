"""The gateway's own answers and everything it proxies carry nosniff; its pages (the API
docs) refuse framing and referrers."""

from __future__ import annotations

import httpx

from .support import GatewayFactory, Upstream


def _routes(url: str) -> dict[str, object]:
    return {"upstreams": {"alpha": url}, "routes": {"/v1/echo": "alpha", "/v1/events": "alpha"}}


def _nosniff(response: httpx.Response) -> None:
    assert response.headers.get_list("x-content-type-options") == ["nosniff"], response.headers


async def test_proxied_own_and_error_answers_are_nosniff(
    make_gateway: GatewayFactory, upstream: Upstream, closed_port_url: str
) -> None:
    async with make_gateway(**_routes(upstream.url)) as gw:
        proxied = await gw.client.get("/v1/echo/x")
        assert proxied.status_code == 200
        _nosniff(proxied)
        proxied_error = await gw.client.get("/v1/echo/x?status=404")
        assert proxied_error.status_code == 404
        _nosniff(proxied_error)
        big = await gw.client.get("/v1/echo/big")
        assert big.headers["content-type"] == "application/octet-stream"
        _nosniff(big)
        for path, status in (("/healthz", 200), ("/nowhere", 404), ("/.well-known/jwks.json", 200)):
            response = await gw.client.get(path)
            assert response.status_code == status
            _nosniff(response)
            assert "x-frame-options" not in response.headers
        refused = await gw.client.get("/v1/echo/x", headers={"Authorization": "Bearer forged"})
        assert refused.status_code == 401
        _nosniff(refused)
    async with make_gateway(**_routes(closed_port_url)) as gw:
        down = await gw.client.get("/v1/echo/x")
        assert down.status_code == 503  # not reachable
        assert down.headers["content-type"].startswith("application/problem+json")
        _nosniff(down)


async def test_the_docs_page_refuses_framing_and_referrers(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        page = await gw.client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    _nosniff(page)
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
