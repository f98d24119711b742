"""facility_booking: bookings/s on distinct slots, latency under contention (50 clients on one
slot), and the month availability grid, on SQLite and PostgreSQL side by side.

Through the real app in process (httpx ASGI transport → kit middleware, token verification,
idempotency, the occupancy index, quota UPDATE, history row, audit outbox row); the outbox
relay and the scheduler do not run (background=False), so only the booking path is timed.

- distinct: `--bookings` first-come bookings of distinct (unit, day, slot) cells, each with its
  own Idempotency-Key, `--concurrency` at a time, by 20 approved users (counter payment: no
  call to payments_mock in the transaction, as for every method); with the process CPU per
  booking (both threads: the loop and SQLite's), which a loaded machine changes less;
- contention: `--rounds` times, 50 different users book the same slot at once; the figures
  are the latency of every one of those requests, and the outcome counts (1×201, 49×409);
- grid: `GET /v1/facilities/{code}/availability` for one unit over a month (31 days) with a
  few bookings in it, `--grids` times one after another.

    uv run python bench/booking.py [--bookings 600] [--concurrency 16] [--rounds 10]
                                   [--grids 200] [--only sqlite|postgres]
                                   [--postgres postgresql+asyncpg://postgres@127.0.0.1/postgres]

It ends with one `SUMMARY <db> …` line per database. PostgreSQL runs when `--postgres` or
CITYHALL_TEST_POSTGRES_URL names a server (a throw-away database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import jpholiday

from services.facility_booking.app import create_app
from services.facility_booking.seed import seed
from services.facility_booking.settings import Settings
from services.kit.app import RuntimeOptions
from tests.support.databases import postgres_database
from tests.support.tokens import TokenFactory

CITY = json.loads((Path(__file__).parents[1] / "deploy/seed/demo_city.json").read_text("utf-8"))
CONTENDERS = 50


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _open(day: date, closed: set[int]) -> bool:
    new_year = (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)
    return day.weekday() not in closed and not new_year and not jpholiday.is_holiday(day)


def distinct_cells(count: int, start: date) -> list[dict[str, str]]:
    """Leaf-unit cells of every facility, day by day, so that no two bookings collide."""
    cells: list[dict[str, str]] = []
    leaves = []
    for facility in CITY["facilities"]:
        parents = {u.get("parent") for u in facility["units"]}
        slots = (
            [f"h{h:02d}" for h in range(9, 21)]
            if facility["slot_scheme"] == "hourly"
            else ["am", "pm", "night"]
        )
        for unit in facility["units"]:
            if unit["code"] not in parents:
                leaves.append(
                    (facility["code"], unit["code"], slots, set(facility["closed_weekdays"]))
                )
    for offset in itertools.count(1):
        day = start + timedelta(days=offset)
        for facility_code, unit_code, slots, closed in leaves:
            if not _open(day, closed):
                continue
            for slot in slots:
                cells.append(
                    {
                        "facility_code": facility_code,
                        "unit_code": unit_code,
                        "day": day.isoformat(),
                        "slot_code": slot,
                    }
                )
                if len(cells) == count:
                    return cells
    raise AssertionError("unreachable")


@asynccontextmanager
async def running(url: str, tokens: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        Settings(database_url=url, environment="test", log_access=False),
        RuntimeOptions(key_source=tokens.key_source(), background=False),
    )
    async with app.router.lifespan_context(app):
        async with app.state.db.session() as session:
            await seed(session, CITY)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client


async def _register(client: httpx.AsyncClient, tokens: TokenFactory, subs: list[str]) -> None:
    for sub in subs:
        response = await client.post(
            "/v1/facility-users",
            headers=tokens.citizen(sub, acr="jpki"),
            json={
                "applicant_type": "individual",
                "name": sub,
                "residency": "resident",
                "residency_basis": "living",
                "email": f"{sub}@example.jp",
            },
        )
        assert response.status_code == 201, response.text


async def bench_database(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    tokens = TokenFactory()
    today = time.localtime()
    start = date(today.tm_year, today.tm_mon, today.tm_mday)
    async with running(url, tokens) as client:
        admin = tokens.admin()
        for facility in CITY["facilities"]:
            patched = await client.patch(
                f"/v1/facilities/{facility['code']}",
                headers=admin,
                json={"max_active_per_user": 1000},
            )
            assert patched.status_code == 200, patched.text
        bookers = [f"cit_b{i:02d}" for i in range(20)]
        contenders = [f"cit_c{i:02d}" for i in range(CONTENDERS)]
        await _register(client, tokens, bookers + contenders)
        headers = {sub: tokens.citizen(sub) for sub in bookers + contenders}

        cells = distinct_cells(args.bookings + args.rounds + 5, start)
        distinct, contended, grid_cells = (
            cells[: args.bookings],
            cells[args.bookings : args.bookings + args.rounds],
            cells[-5:],
        )
        semaphore = asyncio.Semaphore(args.concurrency)
        statuses: list[int] = []

        async def book(i: int, cell: dict[str, str]) -> None:
            sub = bookers[i % len(bookers)]
            async with semaphore:
                response = await client.post(
                    "/v1/reservations",
                    headers={**headers[sub], "Idempotency-Key": f"bench-{name}-{i}"},
                    json={**cell, "payment_method": "counter"},
                )
            statuses.append(response.status_code)

        began, cpu_began = time.perf_counter(), time.process_time()
        await asyncio.gather(*(book(i, c) for i, c in enumerate(distinct)))
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu_began
        assert statuses.count(201) == len(distinct), sorted(set(statuses))

        latencies: list[float] = []
        outcomes = {"201": 0, "409": 0, "other": 0}

        async def contend(sub: str, cell: dict[str, str]) -> None:
            t0 = time.perf_counter()
            response = await client.post(
                "/v1/reservations", headers=headers[sub], json={**cell, "payment_method": "counter"}
            )
            latencies.append((time.perf_counter() - t0) * 1000)
            key = str(response.status_code) if response.status_code in (201, 409) else "other"
            outcomes[key] += 1

        for cell in contended:
            await asyncio.gather(*(contend(sub, cell) for sub in contenders))

        facility, unit = grid_cells[0]["facility_code"], grid_cells[0]["unit_code"]
        for cell in grid_cells:
            await client.post(
                "/v1/reservations",
                headers=headers[bookers[0]],
                json={**cell, "payment_method": "counter"},
            )
        first = start + timedelta(days=1)
        params = {
            "unit": unit,
            "from": first.isoformat(),
            "to": (first + timedelta(days=30)).isoformat(),
        }
        grid_ms: list[float] = []
        for _ in range(args.grids):
            t0 = time.perf_counter()
            response = await client.get(
                f"/v1/facilities/{facility}/availability",
                params=params,
                headers=headers[bookers[1]],
            )
            grid_ms.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.text
            assert len(response.json()["days"]) == 31
    return {
        "bookings_per_s": len(distinct) / elapsed,
        "cpu_ms_per_booking": cpu * 1000 / len(distinct),
        "contention_p50": percentile(latencies, 0.5),
        "contention_p99": percentile(latencies, 0.99),
        "outcomes": outcomes,
        "rounds": args.rounds,
        "grid_p50": statistics.median(grid_ms),
        "grid_p99": percentile(grid_ms, 0.99),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--grids", type=int, default=200)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--postgres", default=os.environ.get("CITYHALL_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    results: dict[str, dict[str, Any]] = {}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = await bench_database(
                "sqlite", f"sqlite+aiosqlite:///{tmp}/booking.db", args
            )
    if args.only in (None, "postgres") and args.postgres:
        async with postgres_database(args.postgres, prefix="cityhall_bench_booking") as url:
            results["postgres"] = await bench_database("postgres", url, args)
    print(
        f"{args.bookings} distinct bookings ({args.concurrency} concurrent); {args.rounds}"
        f" rounds of {CONTENDERS} clients on one slot; {args.grids} month grids"
    )
    for name, r in results.items():
        o = r["outcomes"]
        print(
            f"SUMMARY {name} bookings_per_s={r['bookings_per_s']:.0f}"
            f" cpu_ms_per_booking={r['cpu_ms_per_booking']:.2f}"
            f" contention_p50_ms={r['contention_p50']:.1f}"
            f" contention_p99_ms={r['contention_p99']:.1f}"
            f" outcomes=201:{o['201']},409:{o['409']},other:{o['other']}"
            f" grid_p50_ms={r['grid_p50']:.1f} grid_p99_ms={r['grid_p99']:.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
