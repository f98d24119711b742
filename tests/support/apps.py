"""Run an app with its lifespan and talk to it through httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI


@asynccontextmanager
async def started(app: FastAPI) -> AsyncIterator[FastAPI]:
    """The app with its lifespan entered (for serving it some other way)."""
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def running(
    app: FastAPI, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client
