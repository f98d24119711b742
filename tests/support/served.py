"""An ASGI app served by the stack's own uvicorn configuration on a free local port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.types import ASGIApp

from deploy.serve import Server, server_config


@asynccontextmanager
async def served(app: ASGIApp, *, front_door: bool = False) -> AsyncIterator[str]:
    """Yields the base URL while a real uvicorn server runs `app` in this event loop."""
    server = Server(server_config(app, "127.0.0.1", 0, lifespan="off", front_door=front_door))
    task = asyncio.create_task(server.serve())
    listening = asyncio.create_task(server.listening.wait())
    try:
        await asyncio.wait([task, listening], return_when=asyncio.FIRST_COMPLETED)
        if not listening.done():
            listening.cancel()
            task.result()
            raise RuntimeError("the server stopped before it listened")
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.should_exit = True
        await task
