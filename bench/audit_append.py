"""What one access record costs the gateway process, without HTTP, side by side in one run:

- record: `AccessAuditMiddleware._record` on a proxied request's scope (route match and
  principal already in the scope's state, as the proxy leaves them): what the response path
  pays, taking the request's values and queueing what builds the entry;
- flush: `AuditLog.flush` of batches of 1, 32 and 256 queued records (building each entry,
  `events.access_entry`, then writing the batch) into a database migrated
  as the gateway's lifespan does (SQLite file in a temp dir; with `--postgres URL`, also a
  throw-away PostgreSQL database, created and dropped here), after `--prefill` records so the
  indexes are not empty. Requests come from `--actors` principals in turn: with many, each
  record of a batch lands on its own page of the actor index, SQLite's largest cost.

Per record: wall time (`perf_counter`) and CPU time of the whole process (`process_time`,
every thread, so aiosqlite's worker thread counts too). Loop block: a separate pass with a
ticker task (`asyncio.sleep(0)` in a loop) that notes the gaps between its wake-ups while the
flushes run, i.e. how long a request could not be served: in wall time, which on a busy
machine includes being descheduled (an idle loop's gaps are printed first for comparison),
and in the loop thread's own CPU time, which is the work done on the loop in one stretch.

    uv run python bench/audit_append.py [--records 2560] [--prefill 20000] [--actors 500]
        [--batches 1,32,256] [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    # Run as a script, this file's directory comes first and bench/gateway.py would shadow
    # the gateway package.
    sys.path[0] = str(ROOT)


from gateway.audit_log.access import AccessAuditMiddleware  # noqa: E402
from gateway.audit_log.events import ChainEntry  # noqa: E402
from gateway.audit_log.settings import AuditSettings  # noqa: E402
from gateway.audit_log.store import AuditLog  # noqa: E402
from gateway.routing import RouteTable  # noqa: E402
from gateway.runtime import GatewayRuntime  # noqa: E402
from gateway.settings import GatewaySettings  # noqa: E402
from services.kit.auth import Principal  # noqa: E402
from services.kit.db import Database  # noqa: E402
from services.kit.metrics import Metrics  # noqa: E402
from services.kit.migrate import upgrade  # noqa: E402
from tests.support.databases import postgres_database  # noqa: E402

MIGRATIONS = ROOT / "gateway" / "migrations"  # what gateway.app.MIGRATIONS names
BATCHES = (1, 32, 256)


@dataclass(frozen=True)
class Cost:
    wall_us: float
    cpu_us: float


@dataclass(frozen=True)
class FlushCost:
    batch: int
    records: int
    wall_us: float
    cpu_us: float
    max_gap_ms: float
    p99_gap_ms: float
    max_loop_cpu_ms: float


class Requests:
    """Access records as the gateway makes them: `_record` of a proxied request."""

    def __init__(self, log: AuditLog, actors: int) -> None:
        settings = GatewaySettings(
            routes={"/v1/payments": "payments_mock", "/v1/applications": "e_application"}
        )
        runtime = GatewayRuntime(
            settings=settings, routes=RouteTable(settings.routes), metrics=Metrics("bench")
        )
        self.log = log
        self.middleware = AccessAuditMiddleware(_never_called, runtime=runtime, audit=log)
        self.runtime = runtime
        self.actors = actors
        self.count = 0

    def scope(self) -> dict[str, Any]:
        n = self.count
        self.count += 1
        principal = Principal(
            sub=f"citizen-{n % self.actors}", kind="citizen", roles=frozenset({"resident"})
        )
        path = f"/v1/payments/pay_{uuid.uuid4().hex[:20]}" if n % 3 else "/v1/payments"
        scope: dict[str, Any] = {
            "type": "http",
            "method": "GET" if n % 4 else "POST",
            "path": path,
            "headers": [(b"host", b"127.0.0.1:8000")],
            "client": ("127.0.0.1", 50000 + n % 1000),
            "state": {"principal": principal},
        }
        self.runtime.routes.match_scope(scope)  # the proxy did this already
        return scope

    def record(self, scopes: list[dict[str, Any]]) -> None:
        record = self.middleware._record
        for scope in scopes:
            record(scope, 200, "0123456789abcdef0123456789abcdef", 0.0012)

    def entries(self, count: int) -> list[ChainEntry]:
        """`count` records built as the middleware builds them, taken off the queue."""
        self.record([self.scope() for _ in range(count)])
        queued = list(self.log._queue)[-count:]
        for _ in range(count):
            self.log._queue.pop()
        return [item if isinstance(item, ChainEntry) else item() for item in queued]


async def _never_called(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("not used")


def measure_record(requests: Requests, count: int, rounds: int) -> Cost:
    """Best of `rounds` (each `count` records), per record."""
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(rounds):
        scopes = [requests.scope() for _ in range(count)]
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        requests.record(scopes)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
        requests.log._queue.clear()
    return Cost(best_wall / count * 1e6, best_cpu / count * 1e6)


class Ticker:
    """Notes the gaps between its wake-ups while `active`: how long the loop was busy with
    something else. On a shared machine the wall-clock gaps include the times the process
    was not scheduled at all (see `idle_gaps`), so the loop thread's own CPU time in each gap
    is noted too: that part is work done on the loop, which no request could interrupt."""

    def __init__(self) -> None:
        self.active = False
        self.gaps: list[float] = []
        self.cpu_gaps: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last, last_cpu = time.perf_counter(), time.thread_time()
        while True:
            await asyncio.sleep(0)
            now, cpu = time.perf_counter(), time.thread_time()
            if self.active:
                self.gaps.append(now - last)
                self.cpu_gaps.append(cpu - last_cpu)
            last, last_cpu = now, cpu

    def __enter__(self) -> Ticker:
        self._task = asyncio.create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def idle_gaps(seconds: float) -> list[float]:
    """The ticker's gaps with nothing else running: what the machine alone costs."""
    with Ticker() as ticker:
        ticker.active = True
        await asyncio.sleep(seconds)
        ticker.active = False
    return sorted(ticker.gaps)


async def measure_flush(
    log: AuditLog, requests: Requests, batch: int, records: int, *, ticker: Ticker | None
) -> tuple[float, float, int]:
    """Flush `records` records in batches of `batch`; returns (wall s, CPU s, records)."""
    flushes = max(1, records // batch)
    wall = cpu = 0.0
    for _ in range(flushes):
        for entry in requests.entries(batch):
            log.record_access(entry)
        if ticker is not None:
            await asyncio.sleep(0)
            ticker.active = True
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        written = await log.flush()
        wall += time.perf_counter() - started_wall
        cpu += time.process_time() - started_cpu
        if ticker is not None:
            ticker.active = False
        assert written == batch, (written, batch)
    return wall, cpu, flushes * batch


async def bench_database(url: str, args: argparse.Namespace, key_dir: Path) -> list[FlushCost]:
    db = Database(url)
    await upgrade(db.engine, MIGRATIONS, include_kit=False)
    # batch_size at its maximum: each measured flush is one transaction, and the background
    # flusher (woken when batch_size records wait) never takes part.
    settings = AuditSettings(
        flush_interval_seconds=60,
        checkpoint_every_seconds=3600,
        queue_size=100_000,
        batch_size=10_000,
    )
    log = AuditLog(settings, default_key_path=key_dir / "audit-key.json")
    await log.start(db)
    requests = Requests(log, args.actors)
    results: list[FlushCost] = []
    try:
        for start in range(0, args.prefill, 500):
            await log.append(requests.entries(min(500, args.prefill - start)))
        await measure_flush(log, requests, 32, 320, ticker=None)  # warm up
        for batch in args.batches:
            gc.collect()
            wall, cpu, written = await measure_flush(
                log, requests, batch, args.records, ticker=None
            )
            with Ticker() as ticker:
                await measure_flush(log, requests, batch, args.records // 2, ticker=ticker)
            gaps = sorted(ticker.gaps) or [0.0]
            results.append(
                FlushCost(
                    batch=batch,
                    records=written,
                    wall_us=wall / written * 1e6,
                    cpu_us=cpu / written * 1e6,
                    max_gap_ms=gaps[-1] * 1e3,
                    p99_gap_ms=gaps[int(len(gaps) * 0.99)] * 1e3,
                    max_loop_cpu_ms=max(ticker.cpu_gaps, default=0.0) * 1e3,
                )
            )
        report = await log.verify()
        assert report.ok, report
    finally:
        await log.stop()
        await db.dispose()
    return results


def print_flush(name: str, record: Cost, results: list[FlushCost]) -> None:
    print(f"\n{name}: flush, per record; loop gaps while flushing (sleep(0) ticker)")
    print(
        f"{'batch':>6} {'records':>8} {'wall µs':>9} {'CPU µs':>8} {'all-in CPU µs':>14} "
        f"{'max gap ms':>11} {'p99 gap ms':>11} {'max loop CPU ms':>16}"
    )
    for r in results:
        print(
            f"{r.batch:>6} {r.records:>8} {r.wall_us:>9.1f} {r.cpu_us:>8.1f} "
            f"{r.cpu_us + record.cpu_us:>14.1f} {r.max_gap_ms:>11.2f} {r.p99_gap_ms:>11.3f} "
            f"{r.max_loop_cpu_ms:>16.2f}"
        )


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="cityhall-bench-audit-") as tmp:
        tmp_path = Path(tmp)
        scratch = AuditLog(AuditSettings(queue_size=100_000), default_key_path=tmp_path / "k")
        requests = Requests(scratch, args.actors)
        measure_record(requests, 2000, 2)  # warm up
        record = measure_record(requests, args.records, 7)
        print(
            f"python {sys.version.split()[0]}; {args.prefill} records before each measurement;"
            f" {args.actors} distinct actors in turn"
        )
        print(
            f"\nrecord (_record + record_access): {record.wall_us:.1f} µs wall, "
            f"{record.cpu_us:.1f} µs CPU per record (best of 7 x {args.records})"
        )
        idle = await idle_gaps(5.0)
        print(
            f"idle loop for 5 s (the machine's own noise): max gap {idle[-1] * 1e3:.2f} ms,"
            f" p99 {idle[int(len(idle) * 0.99)] * 1e3:.3f} ms"
        )
        sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
        print_flush("SQLite", record, await bench_database(sqlite_url, args, tmp_path))
        if args.postgres:
            async with postgres_database(args.postgres, prefix="cityhall_bench") as url:
                print_flush("PostgreSQL", record, await bench_database(url, args, tmp_path))
        print(
            "\nall-in CPU = record + flush, per record. Wall of a flush includes waiting for"
            " the database (fsync on commit on PostgreSQL). max loop CPU = the longest run of"
            " work on the event loop between two ticks (the loop thread's CPU time)."
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2560, help="records per batch size")
    parser.add_argument("--prefill", type=int, default=20_000, help="records written first")
    parser.add_argument(
        "--actors",
        type=int,
        default=500,
        help="distinct principals, in turn (bench/gateway.py has 1; each one in a batch"
        " touches its own page of the actor index)",
    )
    parser.add_argument(
        "--batches",
        type=lambda text: [int(part) for part in text.split(",")],
        default=list(BATCHES),
        help="comma-separated batch sizes",
    )
    parser.add_argument(
        "--postgres", help="a PostgreSQL server URL (postgresql+asyncpg://...); also bench there"
    )
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
