"""`cityhall worker` is a real extra sending worker: against the suite's alert_mail database
it sends what is queued into the SMTP server the launcher's settings name, and SIGTERM ends it
cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from deploy.mailsink import MailSink
from services.alert_mail.app import MIGRATIONS
from services.alert_mail.delivery.enqueue import enqueue_message
from services.alert_mail.models import Delivery
from services.kit.db import Database
from services.kit.migrate import upgrade


async def test_worker_sends_the_queue_and_stops_on_sigterm(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'alert_mail.db'}")
    await upgrade(db.engine, MIGRATIONS)
    async with db.session() as session:
        await enqueue_message(
            session,
            to="resident@example.jp",
            subject="テスト配信",
            text="cityhall worker から送られたメールです。",
            kind="notification",
            now=datetime.now(UTC),
        )
    async with MailSink(port=0) as sink:
        env = os.environ | {"CITYHALL_SMTP_PORT": str(sink.port)}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "deploy.cli",
            "worker",
            "--var-dir",
            str(tmp_path),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            received = await sink.wait_for(to="resident@example.jp", within=30)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert received[0].subject == "テスト配信"
    assert process.returncode == 0, stderr.decode()
    async with db.session(write=False) as session:
        delivery = (await session.exec(select(Delivery))).one()
    await db.dispose()
    assert delivery.status == "delivered"
