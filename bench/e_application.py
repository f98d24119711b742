"""e_application: submissions per second, and the staff queue with 100,000 applications, on
SQLite and PostgreSQL.

- submissions/s: `POST /v1/applications` with `submit: true` (form validated against its
  JSON Schema, reference number from the counter row, access code, history, audit and the
  receipt notice in the outbox) through the real app (httpx ASGI transport, kit middleware,
  auth), `--concurrency` at a time, each by its own resident;
- queue: `--rows` applications are written straight into the table (13 departments, every
  status), then a staff member of one department pages through
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
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from services.e_application.app import create_app
from services.e_application.domain.lifecycle import Status
from services.e_application.models import Application
from services.e_application.seed import seed
from services.e_application.settings import Settings
from services.kit.app import RuntimeOptions
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


@contextlib.asynccontextmanager
async def running(url: str, tokens: TokenFactory, var: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        Settings(database_url=url, environment="test", log_access=False, var_dir=var),
        RuntimeOptions(key_source=tokens.key_source(), background=False),
    )
    async with app.router.lifespan_context(app):
        async with app.state.db.session() as session:
            await seed(session, CITY)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


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


async def fill(client: httpx.AsyncClient, rows: int) -> None:
    """`rows` applications written straight into the table, in batches."""
    app = client.app  # type: ignore[attr-defined]
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
            await _insert(app, batch)
            batch = []
    if batch:
        await _insert(app, batch)
    if app.state.db.engine.dialect.name == "postgresql":
        async with app.state.db.engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE applications")


async def _insert(app: Any, batch: list[dict[str, Any]]) -> None:
    async with app.state.db.session() as session:
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
        async with running(url, tokens, Path(var)) as client:
            result = {
                "submit": await submissions(client, tokens, args.submissions, args.concurrency)
            }
            await fill(client, args.rows)
            result["queue"] = await queue_pages(client, tokens, args.pages)
    return result


def report(name: str, result: dict[str, Any], rows: int) -> None:
    s, q = result["submit"], result["queue"]
    print(
        f"{name}: {s['per_s']:.0f} submissions/s (p50 {s['p50_ms']:.1f} ms, p99 "
        f"{s['p99_ms']:.1f} ms, errors {s['errors'] or 'none'}); queue page of "
        f"{q['rows_per_page']:.0f} rows with {rows:,} applications: p50 {q['p50_ms']:.2f} ms, "
        f"p99 {q['p99_ms']:.2f} ms"
    )
    print(
        f"SUMMARY {name} submissions_per_s={s['per_s']:.0f} queue_p50_ms={q['p50_ms']:.2f} "
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
    asyncio.run(main())
