"""Helpers of the gateway app tests: the real upstream's handlers, the gateway harness and a
minimal in-process service app."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp

from gateway.runtime import GatewayRuntime
from gateway.settings import GatewaySettings
from gateway.tokens import issue_access_token
from services.kit.assurance import Acr
from services.kit.auth import PrincipalKind


@dataclass
class Upstream:
    """The real upstream: what it received, and a gate that holds the event stream open."""

    url: str
    hits: list[dict[str, Any]] = field(default_factory=list)
    release_stream: asyncio.Event = field(default_factory=asyncio.Event)


def _record(upstream: Upstream, request: web.Request, body: bytes) -> dict[str, Any]:
    seen = {
        "method": request.method,
        "path": request.raw_path.split("?")[0],
        "query": request.raw_path.partition("?")[2],
        "headers": [[k.lower(), v] for k, v in request.headers.items()],
        "body": body.decode("utf-8", "replace"),
    }
    upstream.hits.append(seen)
    return seen


def upstream_app(upstream: Upstream) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        seen = _record(upstream, request, await request.read())
        response = web.json_response(seen, status=int(request.query.get("status", "200")))
        response.headers["Connection"] = "X-Hop-Secret"
        response.headers["X-Hop-Secret"] = "must not leak"
        response.headers["Keep-Alive"] = "timeout=5"
        response.headers["Proxy-Authenticate"] = "Basic"
        response.headers["X-End-To-End"] = "kept"
        return response

    async def big(request: web.Request) -> web.StreamResponse:
        _record(upstream, request, b"")
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        for i in range(64):
            await response.write(bytes([i % 256]) * 16_384)
        await response.write_eof()
        return response

    async def events(request: web.Request) -> web.StreamResponse:
        _record(upstream, request, b"")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: one\n\n")
        await upstream.release_stream.wait()
        await response.write(b"data: two\n\n")
        await response.write_eof()
        return response

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"late": True})

    async def readyz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/v1/echo/big", big)
    app.router.add_route("*", "/v1/echo{tail:.*}", echo)
    app.router.add_get("/v1/events", events)
    app.router.add_get("/v1/slow", slow)
    app.router.add_get("/readyz", readyz)
    return app


@dataclass
class Gateway:
    app: FastAPI
    client: httpx.AsyncClient

    def client_at(self, ip: str) -> httpx.AsyncClient:
        """Another client of the same gateway, connecting from `ip` (close it after use)."""
        transport = httpx.ASGITransport(self.app, raise_app_exceptions=False, client=(ip, 4321))
        return httpx.AsyncClient(transport=transport, base_url="http://gateway.test")

    @property
    def runtime(self) -> GatewayRuntime:
        runtime: GatewayRuntime = self.app.state.runtime
        return runtime

    def token(
        self,
        *,
        sub: str = "user-1",
        kind: PrincipalKind = "citizen",
        roles: tuple[str, ...] = (),
        scopes: tuple[str, ...] = (),
        acr: str | None = None,
    ) -> str:
        """A token signed with the gateway's key. Staff default to acr `mfa` (amr pwd+otp):
        every staff token with roles the gateway issues follows a login with the code."""
        if acr is None and kind == "staff":
            acr = Acr.MFA
        settings = self.runtime.settings
        keystore = self.runtime.keystore
        assert keystore is not None
        return issue_access_token(
            keystore,
            sub=sub,
            kind=kind,
            roles=roles,
            scopes=scopes,
            acr=acr,
            ttl=300,
            issuer=settings.issuer,
            audience=settings.audience,
            now=datetime.now(UTC),
        )


GatewayFactory = Callable[..., AbstractAsyncContextManager[Gateway]]


class FakeClock:
    """A time source the test moves by hand (seconds)."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def gateway_settings(tmp_path: Path, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "var_dir": tmp_path,
        "log_access": False,
        "upstreams": {},
        "routes": {},
    }
    values.update(overrides)
    return GatewaySettings(**values)


def json_app(
    handler: Callable[[dict[str, Any]], Awaitable[tuple[int, Any]]],
) -> ASGIApp:
    """A minimal in-process service: `handler(request info) -> (status, json body)`."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = await Request(scope, receive).body()
        info = {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode(),
            "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
            "body": body.decode(),
        }
        status, payload = await handler(info)
        data = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                    (b"connection", b"x-internal"),
                    (b"x-internal", b"secret"),
                    (b"keep-alive", b"timeout=5"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    return app  # type: ignore[return-value]
