"""Fixtures of the gateway app tests: a real aiohttp upstream on an ephemeral port, and a
gateway on a tmp_path SQLite database with its lifespan running."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from starlette.types import ASGIApp

from gateway.app import create_app

from .redis_support import RedisForTest, redis_for_test
from .support import (
    FakeClock,
    Gateway,
    GatewayFactory,
    Upstream,
    gateway_settings,
    upstream_app,
)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    holder = Upstream(url="")
    runner = web.AppRunner(upstream_app(holder), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    holder.url = f"http://127.0.0.1:{port}"
    try:
        yield holder
    finally:
        holder.release_stream.set()
        await runner.cleanup()


@pytest.fixture
def closed_port_url() -> str:
    """A URL nobody listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def garbage_url() -> AsyncIterator[str]:
    """A server that answers every request with something that is not HTTP."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"THIS IS NOT HTTP\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def make_gateway(tmp_path: Path) -> GatewayFactory:
    @asynccontextmanager
    async def build(
        *,
        upstream_apps: Mapping[str, ASGIApp] | None = None,
        rate_limit_clock: Callable[[], float] | None = None,
        **overrides: Any,
    ) -> AsyncIterator[Gateway]:
        app = create_app(
            gateway_settings(tmp_path, **overrides),
            upstream_apps=upstream_apps,
            rate_limit_clock=rate_limit_clock,
        )
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client,
        ):
            yield Gateway(app, client)

    return build


@pytest.fixture
async def redis() -> AsyncIterator[RedisForTest]:
    async with redis_for_test() as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
