"""The gateway's pure-ASGI layers run in front of FastAPI's own error handling: whatever
goes wrong in them unexpectedly is still a logged 500 problem that tells nothing inside."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from .support import GatewayFactory, Upstream


async def test_an_unexpected_failure_in_front_of_fastapi_is_a_500_problem(
    make_gateway: GatewayFactory,
    upstream: Upstream,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    async with make_gateway(upstreams={"alpha": upstream.url}, routes={"/v1/echo": "alpha"}) as gw:
        assert gw.runtime.rate_limiter is not None
        monkeypatch.setattr(gw.runtime.rate_limiter, "check", broken)
        with caplog.at_level(logging.ERROR, logger="cityhall.gateway"):
            proxied = await gw.client.get("/v1/echo", headers={"X-Request-ID": "req-boom"})
            login = await gw.client.post("/auth/token", data={"grant_type": "password"})
        health = await gw.client.get("/healthz")  # not rate limited: untouched

    for response in (proxied, login):
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "/problems/internal-error"
        assert "secret" not in response.text
    assert proxied.json()["instance"] == "req-boom"
    assert upstream.hits == []
    assert health.status_code == 200
    assert any("req-boom" in r.getMessage() for r in caplog.records)
