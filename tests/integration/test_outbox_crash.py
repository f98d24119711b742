"""Outbox crash test: a relay process is SIGKILLed mid-delivery and restarted.

1,000 messages are enqueued (SQLite file; also a throwaway PostgreSQL database when
CITYHALL_TEST_POSTGRES_URL is set). A relay in a real separate process POSTs each one to an HTTP
consumer run by this test, which dedupes by message id with `services.kit.inbox.first_delivery`.
When the consumer has received a few hundred messages it holds its responses, so the relay is
certainly mid-batch, and the test kills the relay with SIGKILL. A second relay process takes
over once the dead one's lease (1.5 s) has run out. Proven: nothing is lost, the only
duplicates are messages of the killed process's in-flight batch, and the consumer processed each
message exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from aiohttp import web
from sqlmodel import col, func, select

from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.inbox import first_delivery
from services.kit.outbox import enqueue
from services.kit.tables import InboxMessage, OutboxMessage
from tests.integration.outbox_relay_process import BATCH_SIZE, TOPIC
from tests.support.process_kill import needs_sigkill, sigkill, spawn_module, stop
from tests.support.progress import until_done
from tests.unit.kit.kitdb import kit_database

MESSAGES = 1_000
KILL_AFTER = 425  # receipts by the first relay before it is killed: mid-way through a batch

pytestmark = needs_sigkill


@dataclass
class Consumer:
    """Records every receipt (id, relay run) and processes each id once via the inbox."""

    db: Database
    clock: Clock
    receipts: list[tuple[str, str]] = field(default_factory=list)
    processed: int = 0
    killing_time: asyncio.Event = field(default_factory=asyncio.Event)
    killed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        message_id = str((await request.json())["id"])
        run = request.headers["X-Relay-Run"]
        self.receipts.append((message_id, run))
        async with self.db.session() as session:
            if await first_delivery(session, message_id, source="crash", now=self.clock.now()):
                self.processed += 1
        if run == "1" and len(self.receipts) >= KILL_AFTER:
            # Hold the answer: the relay is now certainly waiting on an unsettled batch.
            self.killing_time.set()
            await self.killed.wait()
        return web.Response(text="ok")


@contextlib.asynccontextmanager
async def serve(consumer: Consumer) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/deliveries", consumer.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}/deliveries"
    finally:
        consumer.killed.set()
        await runner.cleanup()


async def start_relay(
    db_url: str, consumer_url: str, run: str, claims: Path, log: IO[bytes]
) -> asyncio.subprocess.Process:
    return await spawn_module(
        "tests.integration.outbox_relay_process", db_url, consumer_url, run, str(claims), log=log
    )


async def outbox_counts(db: Database) -> Counter[str]:
    async with db.session(write=False) as session:
        rows = await session.exec(
            select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))
        )
        return Counter({status: count for status, count in rows.all()})


async def test_a_killed_relay_loses_nothing_and_duplicates_only_its_in_flight_batch(
    db_url: str, tmp_path: Path
) -> None:
    clock = Clock()
    outbox = await kit_database(db_url)
    consumer = Consumer(
        await kit_database(f"sqlite+aiosqlite:///{tmp_path / 'consumer.db'}"), clock
    )
    log = await asyncio.to_thread((tmp_path / "relay.log").open, "ab")
    processes: list[asyncio.subprocess.Process] = []
    try:
        enqueued: list[str] = []
        for _ in range(MESSAGES // 100):
            async with outbox.session() as session:
                for _ in range(100):
                    enqueued.append(await enqueue(session, TOPIC, {}, now=clock.now()))

        async with serve(consumer) as consumer_url:
            started = time.monotonic()
            first = await start_relay(db_url, consumer_url, "1", tmp_path / "claims-1", log)
            processes.append(first)
            await until_done(
                consumer.killing_time.is_set,
                lambda: len(consumer.receipts),
                what="the first relay's deliveries",
                process=first,
            )
            assert await sigkill(first) == -signal.SIGKILL
            consumer.killed.set()  # let the held handlers answer into the void
            received_by_killed = len(consumer.receipts)

            second = await start_relay(db_url, consumer_url, "2", tmp_path / "claims-2", log)
            processes.append(second)

            async def delivered() -> int:
                return (await outbox_counts(outbox))["delivered"]

            async def all_delivered() -> bool:
                return await delivered() >= MESSAGES

            await until_done(all_delivered, delivered, what="the second relay", process=second)
            elapsed = time.monotonic() - started
            await stop(second, signal.SIGTERM)
            assert second.returncode == 0

        claims_text = await asyncio.to_thread((tmp_path / "claims-1").read_text)
        killed_batches = [line.split() for line in claims_text.splitlines() if line]
        in_flight = set(killed_batches[-1])
        receipts = Counter(message_id for message_id, _ in consumer.receipts)
        runs_by_id: dict[str, set[str]] = {}
        for message_id, run in consumer.receipts:
            runs_by_id.setdefault(message_id, set()).add(run)
        duplicates = {message_id for message_id, n in receipts.items() if n > 1}

        print(
            f"\noutbox crash ({db_url.split(':')[0]}): {len(receipts)} distinct delivered,"
            f" {received_by_killed} receipts before SIGKILL, {len(duplicates)} duplicates"
            f" (in-flight batch of {len(in_flight)}), {len(consumer.receipts)} receipts in all,"
            f" {elapsed:.1f} s"
        )
        # nothing lost
        assert set(receipts) == set(enqueued)
        assert await outbox_counts(outbox) == Counter({"delivered": MESSAGES})
        # the crash really happened mid-delivery, after some hundreds
        assert KILL_AFTER <= received_by_killed < MESSAGES
        assert duplicates, "the killed relay's unsettled batch should have been redelivered"
        # duplicates only from the killed process's in-flight batch, each delivered once per run
        assert len(duplicates) <= BATCH_SIZE
        assert duplicates <= in_flight
        assert all(receipts[m] == 2 and runs_by_id[m] == {"1", "2"} for m in duplicates)
        # and the consumer's dedupe turned at-least-once into exactly-once processing
        assert consumer.processed == MESSAGES
        async with consumer.db.session(write=False) as session:
            inbox_rows = (await session.exec(select(func.count()).select_from(InboxMessage))).one()
        assert inbox_rows == MESSAGES
    finally:
        for process in processes:
            await stop(process, signal.SIGKILL)
        await asyncio.to_thread(log.close)
        await consumer.db.dispose()
        await outbox.dispose()
