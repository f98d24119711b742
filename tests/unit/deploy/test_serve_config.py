"""What the uvicorn servers of the stack believe about a client's address, over real HTTP."""

from __future__ import annotations

import httpx
from starlette.types import Receive, Scope, Send

from tests.support.served import served


async def client_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the client address the server put in the scope."""
    body = str(scope["client"][0]).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def seen_client(front_door: bool) -> str:
    async with served(client_echo, front_door=front_door) as url, httpx.AsyncClient() as client:
        response = await client.get(url, headers={"X-Forwarded-For": "203.0.113.9"})
    return response.text


async def test_the_gateway_server_ignores_forwarded_for_from_a_local_client() -> None:
    # The gateway decides itself whether to trust X-Forwarded-For (trust_forwarded_headers).
    assert await seen_client(front_door=True) == "127.0.0.1"


async def test_a_service_server_trusts_forwarded_for_from_the_local_gateway() -> None:
    assert await seen_client(front_door=False) == "203.0.113.9"
