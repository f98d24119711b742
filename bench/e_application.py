"""e_application: submissions per second, and the staff queue with 100,000 applications, on
SQLite and PostgreSQL.

- submissions/s: `POST /v1/applications` with `submit: true` (form validated against its
  JSON Schema, reference number from the counter row, access code, history, audit and the
  receipt notice in the outbox), `--concurrency` at a time, each by its own resident, over
  HTTP to the service running alone in its own process (uvicorn, as `cityhall up` runs it;
  tokens verified with a JWKS this process serves), so the client's CPU is not the server's;
- queue: `--rows` applications are written straight into the table (13 departments, every
  status), then a staff member of one department pages through, over the same HTTP,
  `GET /v1/applications/queue?status=submitted&limit=50` (first pages and deeper ones, by
  `next_cursor`); wall-clock p50 and p99 of one page.

    uv run python bench/e_application.py [--submissions 1000] [--concurrency 16]
                                         [--rows 100000] [--pages 300]
                                         [--only sqlite|postgres]
                                         [--postgres postgresql+asyncpg://postgres@127.0.0.1/postgres]

It ends with one `SUMMARY <db> …` line per database. PostgreSQL runs when `--postgres` or
CITYHALL_TEST_POSTGRES_URL names a server (a throw-away database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy import insert

from services.e_application.app import create_app
from services.e_application.domain.lifecycle import Status
from services.e_application.models import Application
from services.e_application.seed import seed
from services.e_application.settings import Settings
from services.kit.app import RuntimeOptions
from services.kit.db import Database
from services.kit.ids import new_id
from tests.support.databases import postgres_database
from tests.support.tokens import TokenFactory

CITY = json.loads((Path(__file__).parents[1] / "deploy/seed/demo_city.json").read_text("utf-8"))
FORM = {
    "name": "水道 一郎",
    "address": "デモ市中央1-1",
    "phone": "043-000-0000",
    "supply_address": "デモ市中央1-1",
    "start_date": "2027-04-01",
    "payment": "invoice",
    "payer_is_applicant": True,
}
DEPARTMENTS = [d["code"] for d in CITY["departments"]]
STATUSES = [s.value for s in Status if s is not Status.DRAFT]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def prepare(url: str, tokens: TokenFactory, var: Path) -> None:
    """Migrations and the demo catalogue, by one short life of the app."""
    app = create_app(
        Settings(database_url=url, environment="test", log_access=False, var_dir=var),
        RuntimeOptions(key_source=tokens.key_source(), background=False),
    )
    async with app.router.lifespan_context(app), app.state.db.session() as session:
        await seed(session, CITY)


@contextlib.asynccontextmanager
async def jwks_server(tokens: TokenFactory) -> AsyncIterator[str]:
    jwks = tokens.jwks()

    async def handle(_request: web.Request) -> web.Response:
        return web.json_response(jwks)

    app = web.Application()
    app.router.add_get("/jwks.json", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        yield f"http://127.0.0.1:{port}/jwks.json"
    finally:
        await runner.cleanup()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def service_process(url: str, jwks_url: str, var: Path) -> AsyncIterator[tuple[str, int]]:
    """The service alone in a child process (`serve` below), until the block ends."""
    port = free_port()
    env = {
        **os.environ,
        "E_APPLICATION_DATABASE_URL": url,
        "E_APPLICATION_JWKS_URL": jwks_url,
        "E_APPLICATION_PORT": str(port),
        "E_APPLICATION_ENVIRONMENT": "test",
        "E_APPLICATION_LOG_ACCESS": "false",
        "E_APPLICATION_MIGRATE_ON_START": "false",
        "E_APPLICATION_VAR_DIR": str(var),
    }
    child = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for below
        [sys.executable, "-m", "bench.e_application", "serve"],
        env=env,
        cwd=Path(__file__).parents[1],  # as a module: bench/gateway.py must not shadow gateway
        stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as probe:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await probe.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the service did not start")
        yield base, child.pid
    finally:
        child.terminate()
        await asyncio.to_thread(child.wait, 30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve() -> None:
    """The child: the service with settings from the environment, no background tasks."""
    from deploy.serve import Server, run_main, server_config

    settings = Settings()
    app = create_app(settings, RuntimeOptions(background=False))
    server = Server(server_config(app, "127.0.0.1", settings.port))
    run_main(server.serve())


async def submissions(
    client: httpx.AsyncClient, tokens: TokenFactory, n: int, concurrency: int
) -> dict[str, Any]:
    headers = [
        tokens.headers(f"cit_bench_{i}", kind="citizen", acr="email", email=f"b{i}@example.jp")
        for i in range(n)
    ]
    body = {"procedure_code": "water-start", "form": FORM, "submit": True}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    errors: dict[int, int] = {}
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            start = time.perf_counter()
            response = await client.post("/v1/applications", json=body, headers=headers[i])
            latencies.append(time.perf_counter() - start)
            if response.status_code != 201:
                errors[response.status_code] = errors.get(response.status_code, 0) + 1

    # Warm up (first requests compile schemas, fill caches), not counted.
    for i in range(5):
        await client.post("/v1/applications", json=body, headers=headers[i])
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "per_s": n / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": errors,
    }


async def fill(url: str, rows: int) -> None:
    """`rows` applications written straight into the table, in batches."""
    db = Database(url, pool_size=2)
    try:
        await _fill(db, rows)
    finally:
        await db.dispose()


async def _fill(db: Database, rows: int) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    batch: list[dict[str, Any]] = []
    for i in range(rows):
        status = rng.choice(STATUSES)
        created = now - timedelta(minutes=rows - i)
        batch.append(
            {
                "id": new_id("app"),
                "procedure_code": "water-start",
                "procedure_version": 1,
                "department": rng.choice(DEPARTMENTS),
                "status": status,
                "owner_sub": f"cit_fill_{i % 5000}",
                "channel": "online",
                "locale": "ja",
                "form": FORM,
                "reference": f"{1000 + i // 999_999:04d}-{i % 999_999 + 1:06d}",
                "holds_seat": False,
                "fee_yen": 0,
                "payment_status": "not_required",
                "lookup_failures": 0,
                "due_on": date.today() + timedelta(days=rng.randint(-20, 20)),
                "created_at": created,
                "updated_at": created,
                "submitted_at": created,
            }
        )
        if len(batch) == 5000:
            await _insert(db, batch)
            batch = []
    if batch:
        await _insert(db, batch)
    if db.engine.dialect.name == "postgresql":
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE applications")


async def _insert(db: Database, batch: list[dict[str, Any]]) -> None:
    async with db.session() as session:
        conn = await session.connection()
        await conn.execute(insert(Application), batch)


async def queue_pages(
    client: httpx.AsyncClient, tokens: TokenFactory, pages: int
) -> dict[str, Any]:
    staff = tokens.staff("stf_bench", "staff", department="suido")
    samples: list[float] = []
    rows = 0
    cursor: str | None = None
    for _ in range(pages):
        params: dict[str, Any] = {"status": "submitted", "limit": 50}
        if cursor:
            params["cursor"] = cursor
        start = time.perf_counter()
        response = await client.get("/v1/applications/queue", params=params, headers=staff)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text
        page = response.json()
        rows += len(page["items"])
        cursor = page["next_cursor"]  # to the end, then from the first page again
    return {
        "p50_ms": percentile(samples, 0.5) * 1000,
        "p99_ms": percentile(samples, 0.99) * 1000,
        "rows_per_page": rows / pages,
    }


async def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    tokens = TokenFactory()
    with tempfile.TemporaryDirectory() as var:
        await prepare(url, tokens, Path(var))
        async with (
            jwks_server(tokens) as jwks_url,
            service_process(url, jwks_url, Path(var)) as (base, pid),
        ):
            limits = httpx.Limits(max_connections=args.concurrency)
            async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
                before = cpu_seconds(pid)
                result = {
                    "submit": await submissions(client, tokens, args.submissions, args.concurrency)
                }
                result["submit"]["server_cpu_ms"] = (
                    (cpu_seconds(pid) - before) / (args.submissions + 5) * 1000
                )
                await fill(url, args.rows)
                result["queue"] = await queue_pages(client, tokens, args.pages)
    return result


def report(name: str, result: dict[str, Any], rows: int) -> None:
    s, q = result["submit"], result["queue"]
    print(
        f"{name}: {s['per_s']:.0f} submissions/s (p50 {s['p50_ms']:.1f} ms, p99 "
        f"{s['p99_ms']:.1f} ms, server CPU {s['server_cpu_ms']:.2f} ms each, errors "
        f"{s['errors'] or 'none'}); queue page of "
        f"{q['rows_per_page']:.0f} rows with {rows:,} applications: p50 {q['p50_ms']:.2f} ms, "
        f"p99 {q['p99_ms']:.2f} ms"
    )
    print(
        f"SUMMARY {name} submissions_per_s={s['per_s']:.0f} "
        f"server_cpu_ms_per_submission={s['server_cpu_ms']:.2f} queue_p50_ms={q['p50_ms']:.2f} "
        f"queue_p99_ms={q['p99_ms']:.2f} rows={rows} errors={sum(s['errors'].values())}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--postgres", default=os.environ.get("CITYHALL_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if args.only != "postgres":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            report("sqlite", await run(url, args), args.rows)
    if args.only != "sqlite" and args.postgres:
        async with postgres_database(args.postgres, prefix="cityhall_bench_eapp") as url:
            report("postgres", await run(url, args), args.rows)


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        asyncio.run(main())
