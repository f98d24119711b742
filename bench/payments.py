"""payments_mock throughput and webhook latency, on SQLite and PostgreSQL side by side.

- creates/s: konbini payment creations (each with its Idempotency-Key) through the real app
  (httpx ASGI transport, kit middleware, auth, idempotency, audit, outbox), `--concurrency` at
  a time;
- pay → webhook: a simulated store payment, until a real HTTP receiver (aiohttp on loopback)
  got the signed `payment.paid` from the background outbox relay; p50 and p99.

    uv run python bench/payments.py [--creates 500] [--pays 200] [--concurrency 16]
                                    [--postgres postgresql+asyncpg://postgres@127.0.0.1/postgres]

PostgreSQL runs when `--postgres` or CITYHALL_TEST_POSTGRES_URL names a server (a throw-away
database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from services.kit.app import RuntimeOptions
from services.kit.auth import StaticJWKS
from services.payments_mock.app import create_app
from services.payments_mock.settings import Settings
from tests.support.databases import postgres_database

CLIENT = "svc-bench"
SCOPES = "payments:read payments:write webhooks:manage"


class Tokens:
    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()

    def jwks(self) -> StaticJWKS:
        jwk = json.loads(OKPAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": "bench", "alg": "EdDSA", "use": "sig"})
        return StaticJWKS({"keys": [jwk]})

    def headers(self) -> dict[str, str]:
        now = int(time.time())
        claims = {
            "iss": "cityhall",
            "aud": "cityhall",
            "sub": CLIENT,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "kind": "service",
            "scope": SCOPES,
        }
        token = jwt.encode(claims, self.key, algorithm="EdDSA", headers={"kid": "bench"})
        return {"Authorization": f"Bearer {token}"}


class Receiver:
    """Notes when each payment's `payment.paid` arrived."""

    def __init__(self) -> None:
        self.paid: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        event = json.loads(await request.read())
        if event["type"] == "payment.paid":
            payment_id = event["data"]["object"]["id"]
            arrived = time.perf_counter()
            waiter = self.waiters.get(payment_id)
            if waiter is not None and not waiter.done():
                waiter.set_result(arrived)
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}/hooks"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def run(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    tokens = Tokens()
    app = create_app(
        Settings(database_url=database_url, environment="test", log_access=False),
        RuntimeOptions(key_source=tokens.jwks(), background=os.environ.get("BENCH_BG", "1") == "1"),
    )
    receiver = Receiver()
    await receiver.start()
    body = {"amount": 4500, "method": "konbini", "description": "bench"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = tokens.headers()
            hook = await client.post(
                "/v1/webhook-endpoints",
                json={"url": receiver.url, "event_types": ["payment.paid"]},
                headers=headers,
            )
            assert hook.status_code == 201, hook.text
            semaphore = asyncio.Semaphore(args.concurrency)

            async def create(i: int) -> dict[str, Any]:
                async with semaphore:
                    response = await client.post(
                        "/v1/payments",
                        json={**body, "reference": f"b-{i}"},
                        headers={**headers, "Idempotency-Key": f"bench-{i}"},
                    )
                    assert response.status_code == 201, response.text
                    created: dict[str, Any] = response.json()
                    return created

            await asyncio.gather(*(create(-i - 1) for i in range(20)))  # warm up
            started = time.perf_counter()
            created = await asyncio.gather(*(create(i) for i in range(args.creates)))
            elapsed = time.perf_counter() - started

            latencies: list[float] = []
            loop = asyncio.get_running_loop()
            for payment in created[: args.pays]:
                store = payment["konbini"]["stores"][1]
                waiter: asyncio.Future[float] = loop.create_future()
                receiver.waiters[payment["id"]] = waiter
                t0 = time.perf_counter()
                paid = await client.post(
                    "/v1/simulate/konbini/payments",
                    json={
                        "chain": store["chain"],
                        "payment_code": store["payment_code"],
                        "confirmation_number": store["confirmation_number"],
                    },
                    headers=headers,
                )
                assert paid.status_code == 200, paid.text
                arrived = await asyncio.wait_for(waiter, timeout=30)
                latencies.append((arrived - t0) * 1000)
    await receiver.stop()
    return {
        "creates_per_s": args.creates / elapsed,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": percentile(latencies, 0.99) if latencies else float("nan"),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--creates", type=int, default=500)
    parser.add_argument("--pays", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres", default=os.environ.get("CITYHALL_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = await run(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args)
    if args.postgres:
        async with postgres_database(args.postgres, prefix="cityhall_bench") as url:
            results["PostgreSQL"] = await run(url, args)
    print(
        f"{args.creates} creates ({args.concurrency} concurrent), {args.pays} pays one at a time\n"
    )
    print("| database | creates/s | pay → webhook p50 | p99 |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['creates_per_s']:.0f} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms |"
        )


if __name__ == "__main__":
    asyncio.run(main())
