"""The proxy against a real HTTP upstream (aiohttp server on an ephemeral port)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Message

from gateway.app import create_app

from .support import GatewayFactory, Upstream, gateway_settings

PROBLEM = "application/problem+json"


def routes_to(url: str) -> dict[str, Any]:
    return {
        "upstreams": {"alpha": url},
        "routes": {"/v1/echo": "alpha", "/v1/events": "alpha", "/v1/slow": "alpha"},
    }


def header(seen: dict[str, Any], name: str) -> list[str]:
    return [v for k, v in seen["headers"] if k == name]


def empty_body_then_disconnect(disconnect: asyncio.Event) -> Callable[[], Awaitable[Message]]:
    """An ASGI `receive`: an empty request body, then `http.disconnect` once `disconnect`
    is set."""
    body_sent = False

    async def receive() -> Message:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    return receive


async def test_forwards_method_path_query_body_and_end_to_end_headers(
    make_gateway: GatewayFactory, upstream: Upstream
) -> None:
    async with make_gateway(**routes_to(upstream.url)) as gw:
        response = await gw.client.post(
            "/v1/echo/a%2Fb/c?x=1&y=%E6%97%A5",
            content=b'{"hello": "world"}',
            headers={"Content-Type": "application/json", "X-Custom": "yes"},
        )
    assert response.status_code == 200
    seen = response.json()
    assert seen["method"] == "POST"
    assert seen["path"] == "/v1/echo/a%2Fb/c"  # the raw path, not re-encoded
    assert seen["query"] == "x=1&y=%E6%97%A5"
    assert seen["body"] == '{"hello": "world"}'
    assert header(seen, "x-custom") == ["yes"]
    assert header(seen, "content-type") == ["application/json"]
    assert header(seen, "x-forwarded-proto") == ["http"]
    assert header(seen, "x-forwarded-host") == ["gateway.test"]
    assert header(seen, "x-forwarded-for") == ["127.0.0.1"]
    assert response.headers["x-end-to-end"] == "kept"


async def test_strips_hop_by_hop_headers_both_ways(
    make_gateway: GatewayFactory, upstream: Upstream
) -> None:
    async with make_gateway(**routes_to(upstream.url)) as gw:
        response = await gw.client.get(
            "/v1/echo",
            headers={
                "Connection": "X-Client-Hop",
                "X-Client-Hop": "secret",
                "Keep-Alive": "timeout=9",
                "TE": "trailers",
                "Proxy-Authorization": "Basic Zm9vOmJhcg==",
                "Upgrade": "h2c",
            },
        )
    assert response.status_code == 200
    sent = {k for k, _ in response.json()["headers"]}
    for name in ("x-client-hop", "keep-alive", "te", "proxy-authorization", "upgrade"):
        assert name not in sent
    for name in ("x-hop-secret", "keep-alive", "proxy-authenticate"):
        assert name not in response.headers
    assert "x-hop-secret" not in response.headers.get("connection", "").lower()


async def test_request_id_is_accepted_forwarded_and_echoed(
    make_gateway: GatewayFactory, upstream: Upstream
) -> None:
    async with make_gateway(**routes_to(upstream.url)) as gw:
        given = await gw.client.get("/v1/echo", headers={"X-Request-ID": "req-abc.123"})
        invalid = await gw.client.get("/v1/echo", headers={"X-Request-ID": "bad id; <script>"})
        fresh = await gw.client.get("/v1/echo")
    assert given.headers["x-request-id"] == "req-abc.123"
    assert header(given.json(), "x-request-id") == ["req-abc.123"]
    assert invalid.headers["x-request-id"] != "bad id; <script>"
    assert header(invalid.json(), "x-request-id") == [invalid.headers["x-request-id"]]
    assert header(fresh.json(), "x-request-id") == [fresh.headers["x-request-id"]]
    assert len(fresh.headers.get_list("x-request-id")) == 1


async def test_incoming_forwarded_headers_are_not_trusted_by_default(
    make_gateway: GatewayFactory, upstream: Upstream
) -> None:
    spoofed = {"X-Forwarded-For": "10.9.9.9", "X-Forwarded-Proto": "https"}
    async with make_gateway(**routes_to(upstream.url)) as gw:
        untrusted = (await gw.client.get("/v1/echo", headers=spoofed)).json()
    async with make_gateway(**routes_to(upstream.url), trust_forwarded_headers=True) as gw:
        trusted = (await gw.client.get("/v1/echo", headers=spoofed)).json()
    assert header(untrusted, "x-forwarded-for") == ["127.0.0.1"]
    assert header(untrusted, "x-forwarded-proto") == ["http"]
    assert header(trusted, "x-forwarded-for") == ["10.9.9.9, 127.0.0.1"]
    assert header(trusted, "x-forwarded-proto") == ["https"]


async def test_upstream_status_and_large_streamed_body_pass_through(
    make_gateway: GatewayFactory, upstream: Upstream
) -> None:
    async with make_gateway(**routes_to(upstream.url)) as gw:
        missing = await gw.client.get("/v1/echo?status=404")
        big = await gw.client.get("/v1/echo/big")
    assert missing.status_code == 404
    assert big.status_code == 200
    assert len(big.content) == 64 * 16_384
    assert big.content[16_384 * 5] == 5


async def test_unrouted_paths_fall_through_to_the_gateway(
    make_gateway: GatewayFactory, upstream: Upstream
) -> None:
    async with make_gateway(**routes_to(upstream.url)) as gw:
        near_miss = await gw.client.get("/v1/echoes")
        health = await gw.client.get("/healthz")
    assert near_miss.status_code == 404
    assert near_miss.headers["content-type"] == PROBLEM
    assert health.json() == {"status": "ok", "service": "gateway"}
    assert upstream.hits == []


async def test_connection_refused_is_a_503_problem(
    make_gateway: GatewayFactory, closed_port_url: str
) -> None:
    async with make_gateway(**routes_to(closed_port_url)) as gw:
        response = await gw.client.get("/v1/echo", headers={"X-Request-ID": "r-503"})
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "/problems/service-unavailable"
    assert body["instance"] == "r-503"


async def test_slow_upstream_is_a_504_problem(
    make_gateway: GatewayFactory, upstream: Upstream
) -> None:
    async with make_gateway(**routes_to(upstream.url), upstream_timeout_seconds=0.2) as gw:
        response = await gw.client.get("/v1/slow")
    assert response.status_code == 504
    assert response.json()["type"] == "/problems/gateway-timeout"
    assert response.json()["instance"] == response.headers["x-request-id"]


async def test_garbage_from_upstream_is_a_502_problem(
    make_gateway: GatewayFactory, garbage_url: str
) -> None:
    async with make_gateway(**routes_to(garbage_url)) as gw:
        response = await gw.client.post("/v1/echo", content=b"x")
    assert response.status_code == 502
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "/problems/bad-gateway"


async def test_server_sent_events_stream_through_unbuffered(
    tmp_path: Any, upstream: Upstream
) -> None:
    """The first event reaches the client while the upstream still holds the stream open
    (httpx's ASGITransport buffers whole responses, so this drives the ASGI app directly)."""
    app = create_app(gateway_settings(tmp_path, **routes_to(upstream.url)))
    sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    disconnect = asyncio.Event()

    receive = empty_body_then_disconnect(disconnect)

    async def send(message: dict[str, Any]) -> None:
        await sent.put(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/events",
        "raw_path": b"/v1/events",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"gateway.test"), (b"accept", b"text/event-stream")],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway.test", 80),
    }
    async with app.router.lifespan_context(app):
        call = asyncio.create_task(app(scope, receive, send))  # type: ignore[arg-type]
        start = await asyncio.wait_for(sent.get(), 5)
        assert start["status"] == 200
        headers = dict(start["headers"])
        assert headers[b"content-type"] == b"text/event-stream"
        first = await asyncio.wait_for(sent.get(), 5)
        assert first["body"] == b"data: one\n\n"
        assert not upstream.release_stream.is_set()
        upstream.release_stream.set()
        rest = [await asyncio.wait_for(sent.get(), 5)]
        while rest[-1]["more_body"]:  # the end may come with the last event or after it
            rest.append(await asyncio.wait_for(sent.get(), 5))
        assert b"".join(m["body"] for m in rest) == b"data: two\n\n"
        assert rest[0]["body"] == b"data: two\n\n"
        await asyncio.wait_for(call, 5)


async def test_client_disconnect_ends_an_idle_event_stream(
    tmp_path: Any, upstream: Upstream
) -> None:
    app = create_app(gateway_settings(tmp_path, **routes_to(upstream.url)))
    disconnect = asyncio.Event()
    bodies: list[bytes] = []

    receive = empty_body_then_disconnect(disconnect)

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            bodies.append(message["body"])
            disconnect.set()

    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": "/v1/events",
        "raw_path": b"/v1/events",
        "query_string": b"",
        "headers": [(b"host", b"gateway.test")],
        "client": ("127.0.0.1", 50000),
    }
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(app(scope, receive, send), 5)  # type: ignore[arg-type]
    assert bodies == [b"data: one\n\n"]


async def test_chunked_request_body_streams_upstream(
    make_gateway: GatewayFactory, upstream: Upstream
) -> None:
    async def body() -> Any:
        for part in (b"first,", b"second,", b"third"):
            yield part

    async with make_gateway(**routes_to(upstream.url)) as gw:
        response = await gw.client.put("/v1/echo/upload", content=body())
    seen = response.json()
    assert seen["body"] == "first,second,third"
    assert header(seen, "transfer-encoding") == ["chunked"]
    assert header(seen, "content-length") == []
