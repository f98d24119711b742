"""Single-process mode: the same proxy dispatching to service ASGI apps in-process, and the
bearer-token check that runs before anything is forwarded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from gateway.keys import KeyStore
from gateway.tokens import issue_access_token

from .support import GatewayFactory, Upstream, json_app


def in_process(seen: list[dict[str, Any]]) -> dict[str, Any]:
    async def handler(info: dict[str, Any]) -> tuple[int, Any]:
        seen.append(info)
        return 201, {"ok": True, "path": info["path"]}

    return {
        "upstream_apps": {"things": json_app(handler)},
        "upstreams": {"things": "http://127.0.0.1:9"},  # never dialled: in-process wins
        "routes": {"/v1/things": "things"},
    }


async def test_dispatches_in_process_with_the_same_header_handling(
    make_gateway: GatewayFactory,
) -> None:
    seen: list[dict[str, Any]] = []
    async with make_gateway(**in_process(seen)) as gw:
        response = await gw.client.post(
            "/v1/things/t1?q=1",
            json={"a": 1},
            headers={"X-Request-ID": "inproc-1", "Connection": "x-private", "X-Private": "1"},
        )
    assert response.status_code == 201
    assert response.json() == {"ok": True, "path": "/v1/things/t1"}
    assert response.headers["x-request-id"] == "inproc-1"
    for name in ("x-internal", "keep-alive", "connection"):
        assert name not in response.headers
    received = seen[0]
    assert received["query"] == "q=1"
    assert received["body"] == '{"a":1}'
    assert received["headers"]["x-request-id"] == "inproc-1"
    assert received["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert "x-private" not in received["headers"]


async def test_in_process_failure_before_answering_is_a_502(make_gateway: GatewayFactory) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    async with make_gateway(
        upstream_apps={"things": broken},
        upstreams={"things": "http://127.0.0.1:9"},
        routes={"/v1/things": "things"},
    ) as gw:
        response = await gw.client.get("/v1/things")
    assert response.status_code == 502
    assert response.json()["type"] == "/problems/bad-gateway"
    assert "boom" not in response.text


async def test_in_process_event_stream_passes_through(make_gateway: GatewayFactory) -> None:
    async def events(request: Request) -> StreamingResponse:
        async def stream() -> Any:
            yield b"data: one\n\n"
            yield b"data: two\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    service = Starlette(routes=[Route("/v1/stream", events)])
    async with make_gateway(
        upstream_apps={"alerts": service},
        upstreams={"alerts": "http://127.0.0.1:9"},
        routes={"/v1/stream": "alerts"},
    ) as gw:
        response = await gw.client.get("/v1/stream")
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text == "data: one\n\ndata: two\n\n"


async def test_invalid_bearer_tokens_are_refused_before_proxying(
    make_gateway: GatewayFactory,
) -> None:
    seen: list[dict[str, Any]] = []
    foreign = KeyStore.generate()
    async with make_gateway(**in_process(seen)) as gw:
        settings = gw.runtime.settings
        expired = issue_access_token(
            gw.runtime.keystore,  # type: ignore[arg-type]
            sub="u",
            kind="citizen",
            ttl=60,
            issuer=settings.issuer,
            audience=settings.audience,
            now=datetime.now(UTC) - timedelta(hours=1),
        )
        forged = issue_access_token(
            foreign,
            sub="u",
            kind="citizen",
            ttl=60,
            issuer=settings.issuer,
            audience=settings.audience,
            now=datetime.now(UTC),
        )
        answers = [
            await gw.client.get("/v1/things", headers={"Authorization": f"Bearer {token}"})
            for token in ("not-a-jwt", expired, forged)
        ]
        empty = await gw.client.get("/v1/things", headers={"Authorization": "Bearer "})
    for response in [*answers, empty]:
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["instance"] == response.headers["x-request-id"]
    assert answers[1].json()["detail"] == "token has expired"
    assert seen == []


async def test_valid_or_absent_tokens_pass_through_untouched(
    make_gateway: GatewayFactory, upstream: Upstream
) -> None:
    async with make_gateway(upstreams={"alpha": upstream.url}, routes={"/v1/echo": "alpha"}) as gw:
        token = gw.token(sub="citizen-7")
        with_token = await gw.client.get("/v1/echo", headers={"Authorization": f"Bearer {token}"})
        without = await gw.client.get("/v1/echo")
        basic = await gw.client.get("/v1/echo", headers={"Authorization": "Basic dTpw"})
    assert with_token.status_code == 200
    assert ["authorization", f"Bearer {token}"] in with_token.json()["headers"]
    assert without.status_code == 200
    assert basic.status_code == 200  # not a bearer token: the service decides
    assert len(upstream.hits) == 3
