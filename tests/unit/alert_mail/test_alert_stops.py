"""A Cancel or an Update of an alert that is still sending stops its undelivered mails, against
a real SMTP sink and a worker caught mid-batch: the deliveries still queued are stopped by the
Cancel (`cancelled`) or the Update (`superseded`, CAP 1.2 §3.2.1) itself; the worker holding a
claimed batch sends no further mail of the stopped alert and records those deliveries the same
way; the mails already sent, and those on the wire at that instant, stay `delivered`; the new
message goes to everyone, and the alert's progress counts the stopped ones.

The worker hears of the stop from the commit when it runs in the service's process
(`hooked`), or by polling the alerts of its batch when it runs beside it (`polled`: its own
engine, as `cityhall worker` has)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Literal

import pytest

from deploy.mailsink import StoredMessage
from services.alert_mail.delivery.worker import DeliveryWorker
from services.alert_mail.domain.delivery_status import STOPS, DeliveryTransition
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

MsgType = Literal["Cancel", "Update"]
# what each later message does to the earlier alert's unsent deliveries
STOP: dict[MsgType, tuple[DeliveryTransition, str]] = {
    "Cancel": (DeliveryTransition.CANCEL, "cancelled"),
    "Update": (DeliveryTransition.SUPERSEDE, "superseded"),
}
CONTENT: dict[MsgType, dict[str, Any]] = {
    "Cancel": {"ja": {"headline": "避難指示を解除", "body": "水位が下がりました。"}},
    "Update": {
        "ja": {
            "headline": "避難先を変更",
            "body": "中央小学校は浸水のおそれがあります。",
            "instruction": "中央中学校へ避難してください。",
        }
    },
}


def later(now: datetime, msg_type: MsgType, references: str) -> dict[str, Any]:
    return alert_body(now, msg_type=msg_type, references=references, content=CONTENT[msg_type])


def mails_of(quiet: Quiet, alert_id: str) -> list[StoredMessage]:
    return [m for m in quiet.sink.messages if (m.message_id or "").startswith(f"<{alert_id}.")]


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
@pytest.mark.parametrize("msg_type", ["Cancel", "Update"])
async def test_a_later_message_stops_the_mails_not_yet_sent_and_keeps_the_sent_ones(
    db_url: str, tokens: TokenFactory, msg_type: MsgType, how: Literal["hooked", "polled"]
) -> None:
    stop, stopped = STOP[msg_type]
    other = "superseded" if stopped == "cancelled" else "cancelled"
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
        received_at_stop = len(sink.messages)
        assert received_at_stop == HOLD_AFTER + CONCURRENCY - 1

        newer = await send_four_eyes(quiet.client, staff, later(now, msg_type, original.id))
        queued = await deliveries(quiet.db, alert_id=original.id, status=stopped)
        assert len(queued) == RECIPIENTS - BATCH, "the unclaimed half is stopped at once"
        if how == "hooked":
            assert worker.stops.stop_for(original.id) is stop, "the commit told the worker"
        async with asyncio.timeout(TIMEOUT):
            # polled: from the batch's next look
            assert await worker.stops.learned(original.id) is stop
        handler.released.set()
        async with asyncio.timeout(TIMEOUT):
            await run

        of_original = mails_of(quiet, original.id)
        assert len(of_original) == received_at_stop, f"no mail of it after the {msg_type}"
        stored = await deliveries(quiet.db, alert_id=original.id)
        assert len(stored) == RECIPIENTS, "none lost"
        delivered = {d.email for d in stored if d.status == "delivered"}
        # the CONCURRENCY mails on the wire when the stop came were sent, and stay sent
        assert delivered == {m.rcpt_tos[0] for m in of_original}, "sent mails stay sent"
        assert {d.status for d in stored} == {"delivered", stopped}
        assert all(d.delivered_at is None for d in stored if d.status == stopped)
        assert {d.last_detail for d in stored if d.status == stopped} == {STOPS[stop]}

        # the later message's own mail goes to everyone, once; the rest get only that one
        notices = mails_of(quiet, newer["id"])
        assert sorted(m.rcpt_tos[0] for m in notices) == sorted(p.email for p in people)
        for person in people:
            got = [m for m in sink.messages if m.rcpt_tos == (person.email,)]
            assert len(got) == (2 if person.email in delivered else 1), person.email

        progress = await quiet.client.get(
            f"/v1/alerts/{original.id}/progress", headers=staff.author()
        )
        assert progress.status_code == 200, progress.text
        body = progress.json()
        assert body[stopped] == RECIPIENTS - received_at_stop
        assert (body["counts"][stopped], body["counts"][other]) == (body[stopped], 0)
        assert body[other] == 0
        assert (body["delivered"], body["pending"]) == (received_at_stop, 0)
        async with quiet.db.session(write=False) as session:
            finished = await session.get(Alert, original.id)
        assert finished is not None
        assert (finished.status, finished.superseded_by) == ("completed", newer["id"])
        assert (finished.cancelled_at is not None) == (msg_type == "Cancel")


@pytest.mark.parametrize("msg_type", ["Cancel", "Update"])
async def test_a_later_message_before_any_send_stops_every_delivery_and_completes_the_alert(
    db_url: str, tokens: TokenFactory, msg_type: MsgType
) -> None:
    _, stopped = STOP[msg_type]
    staff = Staff(tokens)
    async with holding_sink(RECIPIENTS) as (sink, _), quiet_service(db_url, tokens, sink) as quiet:
        now = quiet.now()
        await add_subscribers(quiet.db, [Person("a@example.jp"), Person("b@example.jp")], now)
        original = await publish(quiet.db, now)
        newer = await send_four_eyes(quiet.client, staff, later(now, msg_type, original.id))
        async with quiet.db.session(write=False) as session:
            replaced = await session.get(Alert, original.id)
        assert replaced is not None
        assert replaced.status == "completed", "nothing is left to attempt"
        assert {d.status for d in await deliveries(quiet.db, alert_id=original.id)} == {stopped}
        listed = await quiet.client.get(
            f"/v1/alerts/{original.id}/deliveries",
            params={"status": stopped},
            headers=staff.author(),
        )
        assert listed.status_code == 200, listed.text
        rows = listed.json()["items"]
        assert sorted((r["email"], r["status"], r["delivered_at"]) for r in rows) == [
            ("a@example.jp", stopped, None),
            ("b@example.jp", stopped, None),
        ]
        assert {r["last_detail"] for r in rows} == {STOPS[STOP[msg_type][0]]}

        assert await quiet.worker.run_once() == 2, f"only the {msg_type}'s own mails"
        assert {m.message_id.split(".")[0] for m in sink.messages if m.message_id} == {
            f"<{newer['id']}"
        }


async def test_an_update_naming_another_departments_alert_is_refused_and_stops_nothing(
    db_url: str, tokens: TokenFactory
) -> None:
    staff = Staff(tokens)
    async with holding_sink(RECIPIENTS) as (sink, _), quiet_service(db_url, tokens, sink) as quiet:
        now = quiet.now()
        await add_subscribers(quiet.db, [Person("a@example.jp"), Person("b@example.jp")], now)
        original = await publish(quiet.db, now)  # 防災's alert, still sending
        foreign = await quiet.client.post(
            "/v1/alerts",
            json=alert_body(
                now,
                msg_type="Update",
                references=original.id,
                category="suspicious-person",
                districts=[],
            ),
            headers=staff.other_department(),
        )
        assert foreign.status_code == 422, foreign.text
        assert foreign.json()["errors"][0]["field"] == "references"
        assert {d.status for d in await deliveries(quiet.db, alert_id=original.id)} == {"created"}

        assert await quiet.worker.run_once() == 2
        assert sorted(m.rcpt_tos[0] for m in mails_of(quiet, original.id)) == [
            "a@example.jp",
            "b@example.jp",
        ]


async def test_the_openapi_documents_both_stops(db_url: str, tokens: TokenFactory) -> None:
    async with holding_sink(RECIPIENTS) as (sink, _), quiet_service(db_url, tokens, sink) as quiet:
        response = await quiet.client.get("/openapi.json")
    assert response.status_code == 200
    schemas = response.json()["components"]["schemas"]
    assert {"cancelled", "superseded"} <= set(schemas["DeliveryState"]["enum"])
    progress = schemas["AlertProgress"]["properties"]
    assert "Update" in progress["superseded"]["description"]
    assert "Cancel" in progress["cancelled"]["description"]


async def test_a_cancel_after_an_update_leaves_the_superseded_mails_and_the_worker_knows_it(
    db_url: str, tokens: TokenFactory
) -> None:
    staff = Staff(tokens)
    async with holding_sink(RECIPIENTS) as (sink, _), quiet_service(db_url, tokens, sink) as quiet:
        now = quiet.now()
        await add_subscribers(quiet.db, [Person("a@example.jp"), Person("b@example.jp")], now)
        original = await publish(quiet.db, now)
        update = await send_four_eyes(quiet.client, staff, later(now, "Update", original.id))
        assert quiet.worker.stops.stop_for(original.id) is DeliveryTransition.SUPERSEDE
        cancel = await send_four_eyes(quiet.client, staff, later(now, "Cancel", original.id))
        assert quiet.worker.stops.stop_for(original.id) is DeliveryTransition.CANCEL
        stored = await deliveries(quiet.db, alert_id=original.id)
        assert {d.status for d in stored} == {"superseded"}, "stopped once, by the Update"

        assert await quiet.worker.run_once() == 4
        assert not mails_of(quiet, original.id)
        for newer in (update, cancel):
            assert sorted(m.rcpt_tos[0] for m in mails_of(quiet, newer["id"])) == [
                "a@example.jp",
                "b@example.jp",
            ]
