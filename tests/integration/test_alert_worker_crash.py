"""alert_mail crash test: a sending worker process is SIGKILLed mid-alert and restarted.

3,000 confirmed subscribers, one alert fanned out (SQLite file; also a throw-away PostgreSQL
database when CITYHALL_TEST_POSTGRES_URL is set). `python -m services.alert_mail.worker` sends
into a real SMTP sink run by this test. Once the sink has accepted 1,200 mails it stores each
further one but holds its reply, so the worker is certainly mid-batch, and the test kills it
with SIGKILL. A second worker process (lease 5 s; nothing else changed) takes over. Proven:
every recipient ends delivered; the only mails received twice are deliveries the killed
process held claimed (`sending`) when it died; each was received exactly twice, both copies
with the same Message-ID (so a mailbox can drop the second)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import insert
from sqlmodel import col, func, select

from deploy.mailsink import MailSink
from services.alert_mail.app import MIGRATIONS
from services.alert_mail.delivery.fanout import fan_out
from services.alert_mail.models import (
    Alert,
    Delivery,
    Subscription,
    SubscriptionCategory,
)
from services.alert_mail.seed import seed
from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.ids import new_id
from services.kit.migrate import upgrade
from tests.support.holding_sink import holding_sink
from tests.support.process_kill import needs_sigkill, sigkill, spawn_module, stop
from tests.support.progress import until_done
from tests.unit.alert_mail.conftest import demo_city

RECIPIENTS = 3_000
KILL_AFTER = 1_200  # mails accepted from the first worker before it is killed
LEASE_SECONDS = 5
STOP_WITHIN = 15.0

pytestmark = needs_sigkill


async def prepare(db_url: str) -> tuple[Database, str]:
    """A migrated database with the demo city, the subscribers and one alert fanned out."""
    db = Database(db_url)
    await upgrade(db.engine, MIGRATIONS)
    now = Clock().now()
    async with db.session() as session:
        await seed(session, demo_city())
    people = [
        {
            "id": f"sub_crash{n:05d}",
            "email": f"resident{n:05d}@example.jp",
            "status": "active",
            "language": "ja",
            "plain_japanese": False,
            "owner": None,
            "hard_bounces": 0,
            "link_version": 0,
            "created_at": now,
            "updated_at": now,
            "confirmed_at": now,
        }
        for n in range(RECIPIENTS)
    ]
    alert = Alert(
        id=new_id("alt"),
        status="sending",
        category="disaster",
        districts=[],
        severity="Severe",
        urgency="Immediate",
        certainty="Observed",
        content={"ja": {"headline": "市内全域に避難指示", "body": "直ちに避難してください。"}},
        department="bosai",
        fingerprint="c" * 64,
        created_by="stf_author",
        created_at=now,
        updated_at=now,
        sent_at=now,
        expires_at=now + timedelta(hours=6),
    )
    async with db.session() as session:
        await session.exec(insert(Subscription), params=people)
        await session.exec(
            insert(SubscriptionCategory),
            params=[{"subscription_id": p["id"], "category": "disaster"} for p in people],
        )
        session.add(alert)
        await session.flush()
        assert await fan_out(session, alert, now) == RECIPIENTS
    return db, alert.id


async def start_worker(
    db_url: str, sink: MailSink, name: str, log: IO[bytes]
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "ALERT_MAIL_DATABASE_URL": db_url,
        "ALERT_MAIL_SMTP_HOST": sink.host,
        "ALERT_MAIL_SMTP_PORT": str(sink.port),
        "ALERT_MAIL_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    return await spawn_module("services.alert_mail.worker", "--name", name, log=log, env=env)


async def status_counts(db: Database) -> Counter[str]:
    async with db.session(write=False) as session:
        rows = await session.exec(
            select(Delivery.status, func.count()).group_by(col(Delivery.status))
        )
        return Counter({status: count for status, count in rows.all()})


async def test_a_killed_worker_loses_no_recipient_and_duplicates_only_its_claimed_batches(
    db_url: str, tmp_path: Path
) -> None:
    db, alert_id = await prepare(db_url)
    log = await asyncio.to_thread((tmp_path / "workers.log").open, "ab")
    processes: list[asyncio.subprocess.Process] = []
    try:
        async with holding_sink(KILL_AFTER, capacity=RECIPIENTS * 3) as (sink, handler):
            started = time.monotonic()
            first = await start_worker(db_url, sink, "killed", log)
            processes.append(first)
            await until_done(
                handler.holding.is_set,
                lambda: len(sink.store),
                what="the first worker's mails",
                process=first,
            )
            assert await sigkill(first) == -signal.SIGKILL
            received_before_kill = len(sink.store)
            async with db.session(write=False) as session:
                held = (
                    await session.exec(
                        select(Delivery.email, Delivery.worker).where(
                            col(Delivery.status) == "sending"
                        )
                    )
                ).all()
            in_flight = {email for email, _ in held}
            handler.released.set()  # the held replies go to a dead connection

            second = await start_worker(db_url, sink, "second", log)
            processes.append(second)

            async def delivered() -> int:
                return (await status_counts(db))["delivered"]

            async def all_delivered() -> bool:
                return await delivered() >= RECIPIENTS

            await until_done(all_delivered, delivered, what="the second worker", process=second)
            elapsed = time.monotonic() - started
            await stop(second, signal.SIGTERM, within=STOP_WITHIN)
            assert second.returncode == 0

        messages = sink.messages
        copies = Counter(m.rcpt_tos[0] for m in messages)
        duplicates = {email for email, n in copies.items() if n > 1}
        print(
            f"\nalert worker crash ({db_url.split(':')[0]}): {len(copies)} recipients reached,"
            f" {received_before_kill} mails before SIGKILL, {len(in_flight)} claimed and"
            f" unrecorded then, {len(duplicates)} received twice, {elapsed:.1f} s"
        )
        # every recipient delivered, in the database and in the mailbox
        assert await status_counts(db) == Counter({"delivered": RECIPIENTS})
        assert len(copies) == RECIPIENTS
        async with db.session(write=False) as session:
            finished = await session.get(Alert, alert_id)
        assert finished is not None
        assert finished.status == "completed"
        # the kill really came mid-alert, while the killed worker held claimed batches
        assert KILL_AFTER <= received_before_kill < RECIPIENTS
        assert in_flight
        assert all(worker and worker.startswith("killed/") for _, worker in held)
        # duplicates only among those, each received twice with one Message-ID
        assert duplicates, "mails accepted but not recorded before the kill are sent again"
        assert duplicates <= in_flight
        for email in duplicates:
            first_copy, second_copy = sink.for_recipient(email)
            assert first_copy.message_id == second_copy.message_id
            assert first_copy.message_id is not None
            assert first_copy.message_id.endswith("@city.demo.example.jp>")
        async with db.session(write=False) as session:
            retried = (
                await session.exec(select(Delivery.email).where(col(Delivery.attempts) == 2))
            ).all()
        assert set(retried) == in_flight, "only the killed batches were claimed twice"
    finally:
        for process in processes:
            await stop(process, signal.SIGKILL, within=STOP_WITHIN)
        await asyncio.to_thread(log.close)
        await db.dispose()
