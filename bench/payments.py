"""payments_mock throughput and webhook latency, on SQLite and PostgreSQL side by side.

- creates/s: konbini payment creations (each with its Idempotency-Key) through the real app
  (httpx ASGI transport, kit middleware, auth, idempotency, audit, outbox), `--concurrency` at
  a time;
- pay → webhook: a simulated store payment, until a real HTTP receiver (aiohttp on loopback)
  got the signed `payment.paid` from the background outbox relay; p50 and p99.

- the reference (`bench/payments_reference.py`): a bare FastAPI endpoint on the same
  database engine writing the same rows in one transaction with no kit, same concurrency;
- reads: process CPU per `GET /v1/payments/{id}` (p50) against the reference's bare read of
  the same row, and per `GET /v1/payments?limit=10` (mean), each request handed to the ASGI
  app directly so that no HTTP client's work is counted.

    uv run python bench/payments.py [--creates 500] [--pays 200] [--concurrency 16]
                                    [--reads 500] [--only sqlite|postgres]
                                    [--postgres postgresql+asyncpg://postgres@127.0.0.1/postgres]

It ends with one `SUMMARY <db> …` line per database.

PostgreSQL runs when `--postgres` or CITYHALL_TEST_POSTGRES_URL names a server (a throw-away
database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from bench.payments_reference import reference_app
from services.kit.app import RuntimeOptions
from services.kit.auth import StaticJWKS
from services.kit.db import create_engine
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
        self.base = ""
        self.audited = 0
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

    async def _token(self, _request: web.Request) -> web.Response:
        return web.json_response({"access_token": "bench", "expires_in": 3600})

    async def _audit(self, request: web.Request) -> web.Response:
        self.audited += len((await request.json())["events"])
        return web.json_response({"accepted": True}, status=202)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        # The gateway's side of audit shipping, so the relay does its real work per create.
        app.router.add_post("/auth/token", self._token)
        app.router.add_post("/internal/audit/events", self._audit)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.base = f"http://127.0.0.1:{port}"
        self.url = f"{self.base}/hooks"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class AsgiGet:
    """Calls an ASGI app directly (no HTTP client), so CPU per request is the app's own."""

    def __init__(self, app: Any, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, path: str) -> int:
        raw_path, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": raw_path,
            "raw_path": raw_path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"bench"), *self.headers],
            "client": ("127.0.0.1", 50000),
            "server": ("bench", 80),
            "state": dict(self.app.state._state) if hasattr(self.app, "state") else {},
        }
        status = 0

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status


def cpu_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def timed_cpu(call: Any, n: int) -> list[float]:
    """Process CPU (every thread: the event loop and SQLite's) of each of `n` calls in a row."""
    samples = []
    for _ in range(n):
        before = time.process_time()
        await call()
        samples.append(time.process_time() - before)
    return samples


async def creates(
    client: httpx.AsyncClient,
    path: str,
    headers: dict[str, str],
    n: int,
    concurrency: int,
    tag: str,
) -> tuple[float, int, list[dict[str, Any]]]:
    """`n` konbini creates, `concurrency` at a time: (creates/s, errors, created bodies)."""
    body = {"amount": 4500, "method": "konbini", "description": "bench"}
    semaphore = asyncio.Semaphore(concurrency)
    errors = 0
    created: list[dict[str, Any]] = []

    async def create(i: int) -> None:
        nonlocal errors
        async with semaphore:
            response = await client.post(
                path,
                json={**body, "reference": f"b-{i}"},
                headers={**headers, "Idempotency-Key": f"{tag}-{i}"},
            )
            if response.status_code == 201:
                created.append(response.json())
            else:
                errors += 1
                if errors <= 3:
                    print(f"  {tag}: {response.status_code} {response.text[:200]}")

    await asyncio.gather(*(create(-i - 1) for i in range(20)))  # warm up
    started = time.perf_counter()
    await asyncio.gather(*(create(i) for i in range(n)))
    return n / (time.perf_counter() - started), errors, created


async def run_kit(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    tokens = Tokens()
    receiver = Receiver()
    await receiver.start()
    app = create_app(
        Settings(
            database_url=database_url,
            environment="test",
            log_access=False,
            gateway_url=receiver.base,
        ),
        RuntimeOptions(key_source=tokens.jwks(), background=os.environ.get("BENCH_BG", "1") == "1"),
    )
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
            per_s, errors, created = await creates(
                client, "/v1/payments", headers, args.creates, args.concurrency, "kit"
            )

            latencies: list[float] = []
            relay_part: list[float] = []  # from the store's answer to the webhook's arrival
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
                answered = time.perf_counter()
                arrived = await asyncio.wait_for(waiter, timeout=30)
                latencies.append((arrived - t0) * 1000)
                relay_part.append((arrived - answered) * 1000)

            one = created[-1]["id"]
            get = AsgiGet(app, headers)

            async def read() -> None:
                assert await get(f"/v1/payments/{one}") == 200

            async def page() -> None:
                assert await get("/v1/payments?limit=10") == 200

            await timed_cpu(read, 50)
            read_cpu = await timed_cpu(read, args.reads)
            await timed_cpu(page, 20)
            page_cpu = await timed_cpu(page, args.reads)
    await receiver.stop()
    print(f"  {receiver.audited} audit events reached the gateway's side")
    if relay_part:
        print(
            f"  of pay → webhook, after the store's answer: p50"
            f" {statistics.median(relay_part):.1f} ms, p99 {percentile(relay_part, 0.99):.1f} ms"
        )
    return {
        "creates_per_s": per_s,
        "errors": errors,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": percentile(latencies, 0.99) if latencies else float("nan"),
        "read_cpu_ms": cpu_ms(read_cpu),
        "list_cpu_ms": statistics.fmean(page_cpu) * 1000,
    }


async def run_reference(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    tokens = Tokens()
    migrate_only = create_app(
        Settings(database_url=database_url, environment="test", log_access=False),
        RuntimeOptions(key_source=tokens.jwks(), background=False),
    )
    async with migrate_only.router.lifespan_context(migrate_only):
        pass  # the same tables, made by payments_mock's migrations
    engine = create_engine(database_url)
    app = reference_app(engine)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            per_s, errors, created = await creates(
                client, "/ref/payments", {}, args.creates, args.concurrency, "ref"
            )
            one = created[-1]["id"]
            get = AsgiGet(app, {})

            async def read() -> None:
                assert await get(f"/ref/payments/{one}") == 200

            await timed_cpu(read, 50)
            read_cpu = await timed_cpu(read, args.reads)
    finally:
        await engine.dispose()
    return {"creates_per_s": per_s, "errors": errors, "read_cpu_ms": cpu_ms(read_cpu)}


async def run(name: str, url_for: Any, args: argparse.Namespace) -> dict[str, Any]:
    async with url_for("kit") as url:
        kit = await run_kit(url, args)
    async with url_for("ref") as url:
        reference = await run_reference(url, args)
    return {
        **kit,
        "reference_per_s": reference["creates_per_s"],
        "reference_errors": reference["errors"],
        "reference_read_cpu_ms": reference["read_cpu_ms"],
        "ratio": kit["creates_per_s"] / reference["creates_per_s"],
        "read_ratio": reference["read_cpu_ms"] / kit["read_cpu_ms"],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--creates", type=int, default=500)
    parser.add_argument("--pays", type=int, default=200)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres", default=os.environ.get("CITYHALL_TEST_POSTGRES_URL"))
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:

        @contextlib.asynccontextmanager
        async def sqlite_file(tag: str) -> AsyncIterator[str]:
            yield f"sqlite+aiosqlite:///{Path(tmp) / f'{tag}.db'}"

        if args.only != "postgres":
            results["sqlite"] = await run("sqlite", sqlite_file, args)
    if args.postgres and args.only != "sqlite":

        def pg_database(tag: str) -> Any:
            return postgres_database(args.postgres, prefix=f"cityhall_bench_{tag}")

        results["postgresql"] = await run("postgresql", pg_database, args)
    print(
        f"\n{args.creates} creates ({args.concurrency} concurrent), {args.pays} pays one at a"
        f" time, {args.reads} reads of one payment and of a page of 10\n"
    )
    print(
        "| database | creates/s | reference/s | ratio | errors | pay → webhook p50 | p99"
        " | read CPU p50 | reference read | read ratio | list of 10 CPU |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['creates_per_s']:.0f} | {r['reference_per_s']:.0f}"
            f" | {r['ratio']:.2f} | {r['errors']} | {r['p50_ms']:.1f} ms | {r['p99_ms']:.1f} ms"
            f" | {r['read_cpu_ms']:.2f} ms | {r['reference_read_cpu_ms']:.2f} ms"
            f" | {r['read_ratio']:.2f} | {r['list_cpu_ms']:.2f} ms |"
        )
    for name, r in results.items():
        print(
            f"SUMMARY {name} creates_per_s={r['creates_per_s']:.0f}"
            f" reference_per_s={r['reference_per_s']:.0f} ratio={r['ratio']:.2f}"
            f" errors={r['errors']} webhook_p50_ms={r['p50_ms']:.1f}"
            f" webhook_p99_ms={r['p99_ms']:.1f} read_ratio={r['read_ratio']:.2f}"
            f" read_cpu_p50_ms={r['read_cpu_ms']:.2f} list_cpu_ms={r['list_cpu_ms']:.2f}"
            f" reference_errors={r['reference_errors']}"
        )


if __name__ == "__main__":
    asyncio.run(main())
