"""A Cancel of an alert that is still sending stops its undelivered mails, against a real SMTP
sink and a worker caught mid-batch: the deliveries still queued are cancelled by the Cancel
itself; the worker holding a claimed batch sends no further mail of the cancelled alert and
records those deliveries `cancelled`; the mails already sent stay `delivered`, and the
alert's progress counts the cancelled ones.

The worker hears of the cancel from the commit when it runs in the service's process
(`hooked`), or by polling the alerts of its batch when it runs beside it (`polled`: its own
engine, as `cityhall worker` has)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import pytest

from services.alert_mail.delivery.worker import DeliveryWorker
from services.alert_mail.models import Alert
from services.kit.db import Database
from services.kit.mailer import Mailer
from tests.support.holding_sink import holding_sink
from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.alerts_support import Staff, alert_body, send_four_eyes
from tests.unit.alert_mail.delivery_support import (
    Person,
    Quiet,
    add_subscribers,
    deliveries,
    publish,
    quiet_service,
)

RECIPIENTS = 40
BATCH = 20  # the worker claims half of them; the other half waits in the queue
CONCURRENCY = 3
HOLD_AFTER = 5  # replies are held from the fifth mail on: every connection ends up waiting
TIMEOUT = 60.0


@asynccontextmanager
async def sending_worker(
    quiet: Quiet, db_url: str, how: Literal["hooked", "polled"]
) -> AsyncIterator[DeliveryWorker]:
    if how == "hooked":
        yield quiet.worker
        return
    db = Database(db_url)  # no commit hooks of the service's: like another process
    settings = quiet.settings
    mailer = Mailer(settings.smtp_host, settings.smtp_port, pool_size=settings.smtp_pool_size)
    try:
        yield DeliveryWorker(db, quiet.runtime.clock, settings, mailer, name="beside")
    finally:
        await mailer.close()
        await db.dispose()


@pytest.mark.parametrize("how", ["hooked", "polled"])
async def test_a_cancel_stops_the_mails_not_yet_sent_and_keeps_the_sent_ones(
    db_url: str, tokens: TokenFactory, how: Literal["hooked", "polled"]
) -> None:
    staff = Staff(tokens)
    async with (
        holding_sink(HOLD_AFTER) as (sink, handler),
        quiet_service(
            db_url,
            tokens,
            sink,
            worker_batch_size=BATCH,
            worker_concurrency=CONCURRENCY,
            smtp_pool_size=CONCURRENCY,
            worker_cancel_poll_seconds=0.05,
        ) as quiet,
        sending_worker(quiet, db_url, how) as worker,
    ):
        now = quiet.now()
        people = [Person(f"resident{n:02d}@example.jp") for n in range(RECIPIENTS)]
        await add_subscribers(quiet.db, people, now)
        original = await publish(quiet.db, now)
        assert original.recipients == RECIPIENTS

        run = asyncio.create_task(worker.run_once())
        async with asyncio.timeout(TIMEOUT):
            await handler.wait_held(CONCURRENCY)  # mid-batch, every send waiting on its reply
        received_at_cancel = len(sink.messages)
        assert received_at_cancel == HOLD_AFTER + CONCURRENCY - 1

        cancel = await send_four_eyes(
            quiet.client,
            staff,
            alert_body(
                now,
                msg_type="Cancel",
                references=original.id,
                content={"ja": {"headline": "避難指示を解除", "body": "水位が下がりました。"}},
            ),
        )
        queued = await deliveries(quiet.db, alert_id=original.id, status="cancelled")
        assert len(queued) == RECIPIENTS - BATCH, "the unclaimed half is cancelled at once"
        if how == "hooked":
            assert worker.cancels.is_cancelled(original.id), "the commit told the worker"
        async with asyncio.timeout(TIMEOUT):
            await worker.cancels.learned(original.id)  # polled: from the batch's next look
        handler.released.set()
        async with asyncio.timeout(TIMEOUT):
            await run

        of_original = [
            m for m in sink.messages if (m.message_id or "").startswith(f"<{original.id}.")
        ]
        assert len(of_original) == received_at_cancel, "no mail of it after the cancel"
        stored = await deliveries(quiet.db, alert_id=original.id)
        delivered = {d.email for d in stored if d.status == "delivered"}
        assert delivered == {m.rcpt_tos[0] for m in of_original}, "sent mails stay sent"
        assert {d.status for d in stored} == {"delivered", "cancelled"}
        assert all(d.delivered_at is None for d in stored if d.status == "cancelled")

        # the Cancel's own notice goes to everyone
        notices = [m for m in sink.messages if (m.message_id or "").startswith(f"<{cancel['id']}.")]
        assert len(notices) == RECIPIENTS

        progress = await quiet.client.get(
            f"/v1/alerts/{original.id}/progress", headers=staff.author()
        )
        assert progress.status_code == 200, progress.text
        body = progress.json()
        assert body["cancelled"] == RECIPIENTS - received_at_cancel
        assert body["counts"]["cancelled"] == body["cancelled"]
        assert (body["delivered"], body["pending"]) == (received_at_cancel, 0)
        async with quiet.db.session(write=False) as session:
            finished = await session.get(Alert, original.id)
        assert finished is not None
        assert (finished.status, finished.cancelled_at is not None) == ("completed", True)


async def test_a_cancel_before_any_send_cancels_every_delivery_and_completes_the_alert(
    db_url: str, tokens: TokenFactory
) -> None:
    staff = Staff(tokens)
    async with holding_sink(RECIPIENTS) as (sink, _), quiet_service(db_url, tokens, sink) as quiet:
        now = quiet.now()
        await add_subscribers(quiet.db, [Person("a@example.jp"), Person("b@example.jp")], now)
        original = await publish(quiet.db, now)
        cancel = await send_four_eyes(
            quiet.client, staff, alert_body(now, msg_type="Cancel", references=original.id)
        )
        async with quiet.db.session(write=False) as session:
            cancelled = await session.get(Alert, original.id)
        assert cancelled is not None
        assert cancelled.status == "completed", "nothing is left to attempt"
        assert {d.status for d in await deliveries(quiet.db, alert_id=original.id)} == {"cancelled"}

        assert await quiet.worker.run_once() == 2, "only the Cancel's own notices"
        assert {m.message_id.split(".")[0] for m in sink.messages if m.message_id} == {
            f"<{cancel['id']}"
        }
