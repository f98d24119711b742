"""A real outbox relay in its own process, for the crash test.

    python -m tests.integration.outbox_relay_process DB_URL CONSUMER_URL RUN CLAIMS_FILE

Delivers topic `crash` by POSTing `{"id": ...}` to CONSUMER_URL with header `X-Relay-Run: RUN`.
Before delivering a batch it appends the batch's ids as one line to CLAIMS_FILE, so the test
knows which messages were in flight when it killed this process.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import aiohttp

from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.outbox import OutboxRelay, RetryLater, Undeliverable, per_message
from services.kit.tables import OutboxMessage

TOPIC = "crash"
BATCH_SIZE = 50
LEASE = timedelta(seconds=1.5)


def _append_line(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as claims:
        claims.write(line + "\n")


async def main(db_url: str, consumer_url: str, run: str, claims_file: Path) -> None:
    db = Database(db_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:

        async def deliver(message: OutboxMessage) -> None:
            async with http.post(
                consumer_url, json={"id": message.id}, headers={"X-Relay-Run": run}
            ) as response:
                if response.status != 200:
                    raise RetryLater(f"consumer answered {response.status}")

        one_by_one = per_message(deliver)

        async def handler(
            messages: Sequence[OutboxMessage],
        ) -> Sequence[RetryLater | Undeliverable | None]:
            await asyncio.to_thread(_append_line, claims_file, " ".join(m.id for m in messages))
            return await one_by_one(messages)

        relay = OutboxRelay(
            db, Clock(), {TOPIC: handler}, batch_size=BATCH_SIZE, lease=LEASE, idle_poll=0.1
        )
        relay.start()
        await stop.wait()
        await relay.stop()
    await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("db_url")
    parser.add_argument("consumer_url")
    parser.add_argument("run")
    parser.add_argument("claims_file", type=Path)
    args = parser.parse_args()
    asyncio.run(main(args.db_url, args.consumer_url, args.run, args.claims_file))
