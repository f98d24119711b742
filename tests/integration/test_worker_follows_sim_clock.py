"""A sending worker in its own process keeps the service's simulated time.

alert_mail runs in this process (its own workers off); `python -m services.alert_mail.worker`
runs beside it on the same database (SQLite file, or PostgreSQL when configured), sending
into a real SMTP sink. One delivery is due now, one is a retry scheduled an hour ahead. The
worker sends the first at once and leaves the retry; then the service's `/sim/clock` (called
as the gateway's `/sim/clock` calls it) moves two hours on, and the worker, which reads the
wall clock plus the offset its service stored, sends the retry and stamps it at the moved
time."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import IO

import pytest
from sqlmodel import col, update

from deploy.mailsink import MailSink
from services.alert_mail.models import Delivery
from tests.support.process_kill import spawn_module, stop
from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.delivery_support import (
    Person,
    Quiet,
    add_subscribers,
    by_email,
    publish,
    quiet_service,
)

TIMEOUT = 60.0
RETRY_IN = timedelta(hours=1)


@pytest.fixture
async def sink() -> AsyncIterator[MailSink]:
    async with MailSink(port=0) as server:
        yield server


async def start_worker(db_url: str, sink: MailSink, log: IO[bytes]) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "ALERT_MAIL_DATABASE_URL": db_url,
        "ALERT_MAIL_SMTP_HOST": sink.host,
        "ALERT_MAIL_SMTP_PORT": str(sink.port),
        "ALERT_MAIL_SIMULATION": "true",
        "ALERT_MAIL_CLOCK_POLL_SECONDS": "0.2",
        "ALERT_MAIL_WORKER_IDLE_POLL_SECONDS": "0.2",
    }
    return await spawn_module("services.alert_mail.worker", "--name", "beside", log=log, env=env)


async def delivered(quiet: Quiet, email: str, process: asyncio.subprocess.Process) -> Delivery:
    async with asyncio.timeout(TIMEOUT):
        while (found := (await by_email(quiet.db))[email]).status != "delivered":
            assert process.returncode is None, "the worker died"
            await asyncio.sleep(0.1)
    return found


async def test_an_external_worker_sends_a_retry_once_the_service_clock_makes_it_due(
    db_url: str, tokens: TokenFactory, sink: MailSink, tmp_path: Path
) -> None:
    log = await asyncio.to_thread((tmp_path / "worker.log").open, "ab")
    async with quiet_service(db_url, tokens, sink) as quiet:
        now = quiet.now()
        await add_subscribers(quiet.db, [Person("now@example.jp"), Person("later@example.jp")], now)
        await publish(quiet.db, now)
        async with quiet.db.session() as session:  # a 4xx an attempt ago: retry in an hour
            await session.exec(
                update(Delivery)
                .where(col(Delivery.email) == "later@example.jp")
                .values(status="temporary-failure", attempts=1, next_attempt_at=now + RETRY_IN)
            )

        worker = await start_worker(db_url, sink, log)
        try:
            first = await delivered(quiet, "now@example.jp", worker)
            assert first.delivered_at is not None
            assert first.delivered_at < now + RETRY_IN
            waiting = (await by_email(quiet.db))["later@example.jp"]
            assert (waiting.status, waiting.attempts) == ("temporary-failure", 1)
            assert [m.rcpt_tos for m in sink.messages] == [("now@example.jp",)]

            await quiet.advance(2 * RETRY_IN)  # as the gateway's /sim/clock moves it

            second = await delivered(quiet, "later@example.jp", worker)
            assert second.attempts == 2
            assert second.delivered_at is not None
            assert second.delivered_at >= now + 2 * RETRY_IN, "stamped at the simulated time"
            assert [m.rcpt_tos[0] for m in sink.messages] == ["now@example.jp", "later@example.jp"]
            await stop(worker, signal.SIGTERM, within=15)
            assert worker.returncode == 0
        finally:
            await stop(worker, signal.SIGKILL, within=15)
            await asyncio.to_thread(log.close)


async def test_a_worker_started_after_the_clock_moved_starts_at_the_simulated_time(
    db_url: str, tokens: TokenFactory, sink: MailSink, tmp_path: Path
) -> None:
    log = await asyncio.to_thread((tmp_path / "worker.log").open, "ab")
    async with quiet_service(db_url, tokens, sink) as quiet:
        now = quiet.now()
        await quiet.advance(RETRY_IN)
        await add_subscribers(quiet.db, [Person("resident@example.jp")], now)
        await publish(quiet.db, quiet.now())

        worker = await start_worker(db_url, sink, log)
        try:
            sent = await delivered(quiet, "resident@example.jp", worker)
            assert sent.delivered_at is not None
            assert sent.delivered_at >= now + RETRY_IN
        finally:
            await stop(worker, signal.SIGKILL, within=15)
            await asyncio.to_thread(log.close)
