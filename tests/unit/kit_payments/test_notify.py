"""kit.notify: a mail queued in the service's transaction reaches alert_mail through the
outbox, later if alert_mail is down, and once even when an answer is lost."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from services.alert_mail.delivery.hooks import delivery_worker
from services.kit.errors import UnprocessableContent
from services.kit.notify import NOTIFY_TOPIC, enqueue_notification
from services.kit.tables import OutboxMessage
from tests.unit.kit_payments.conftest import Suite

ADDRESS = "taro.yamada@example.jp"
VALUES: dict[str, Any] = {
    "name": "山田 太郎",
    "item": "住民票の写し 交付手数料（デモ）",
    "amount": "300",
    "paid_at": "2026年12月3日 10:15",
    "method": "コンビニ（ローソン）",
}


async def _enqueue(suite: Suite, reference: str, **overrides: Any) -> str:
    values: dict[str, Any] = {
        "template_id": "tpl_payments_received",
        "email_address": ADDRESS,
        "personalisation": VALUES,
        "reference": reference,
    } | overrides
    runtime = suite.demo_runtime
    async with runtime.db.session() as session:
        return await enqueue_notification(session, now=runtime.clock.now(), **values)


async def _message(suite: Suite, message_id: str) -> OutboxMessage:
    async with suite.demo_runtime.db.session(write=False) as session:
        message = await session.get(OutboxMessage, message_id)
    assert message is not None
    return message


async def _notifications(suite: Suite, reference: str) -> list[dict[str, Any]]:
    response = await suite.call("GET", "/v1/notifications", params={"reference": reference})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_mail_queued_while_alert_mail_is_down_is_delivered_later_and_once(
    suite: Suite,
) -> None:
    await suite.alert_mail.stop()
    try:
        message_id = await _enqueue(suite, "app_01NOTIFY")
        assert await suite.demo_runtime.relay.run_once() == 0
        waiting = await _message(suite, message_id)
        assert (waiting.topic, waiting.status, waiting.attempts) == (NOTIFY_TOPIC, "pending", 1)
        assert waiting.last_error is not None
        assert "alert_mail answered 50" in waiting.last_error
    finally:
        await suite.alert_mail.start()

    suite.demo_runtime.clock.advance(timedelta(minutes=1))  # past the relay's first backoff
    assert await suite.demo_runtime.relay.run_once() == 1
    assert (await _message(suite, message_id)).status == "delivered"
    [notification] = await _notifications(suite, "app_01NOTIFY")
    assert notification["template_id"] == "tpl_payments_received"
    assert (
        notification["subject"]
        == "【デモ市】住民票の写し 交付手数料（デモ）のお支払いを確認しました"
    )

    # The answer was lost (the relay died before recording it): the retry replays it.
    async with suite.demo_runtime.db.session() as session:
        await session.exec(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == message_id)
            .values(status="pending", delivered_at=None)
        )
    assert await suite.demo_runtime.relay.run_once() == 1
    assert len(await _notifications(suite, "app_01NOTIFY")) == 1

    await delivery_worker(suite.alert_mail.app).run_once()
    [mail] = suite.sink.store.select(to=ADDRESS)
    assert mail.subject == notification["subject"]
    assert mail.text is not None
    assert "山田 太郎 様" in mail.text


async def test_a_notification_alert_mail_refuses_is_dead_lettered_not_retried(
    suite: Suite,
) -> None:
    missing = await _enqueue(suite, "app_01MISSING", personalisation={"name": "山田 太郎"})
    unknown = await _enqueue(suite, "app_01UNKNOWN", template_id="tpl_no_such_template")
    assert await suite.demo_runtime.relay.run_once() == 0
    for message_id in (missing, unknown):
        dead = await _message(suite, message_id)
        assert dead.status == "dead"
        assert dead.attempts == 1
        assert dead.last_error is not None
        assert "422" in dead.last_error
    assert await _notifications(suite, "app_01MISSING") == []


async def test_a_notification_is_queued_only_with_its_transaction(suite: Suite) -> None:
    runtime = suite.demo_runtime

    async def failing_change() -> None:
        async with runtime.db.session() as session:
            await enqueue_notification(
                session,
                template_id="tpl_payments_received",
                email_address=ADDRESS,
                personalisation=VALUES,
                reference="app_01ROLLEDBACK",
                now=runtime.clock.now(),
            )
            raise RuntimeError("the service's change failed")

    with pytest.raises(RuntimeError, match="change failed"):
        await failing_change()
    assert await runtime.relay.run_once() == 0
    assert await _notifications(suite, "app_01ROLLEDBACK") == []

    async with runtime.db.session() as session:
        with pytest.raises(UnprocessableContent) as bad:
            await enqueue_notification(
                session,
                template_id="tpl_payments_received",
                email_address="not an address",
                personalisation={},
                now=runtime.clock.now(),
            )
    assert bad.value.extensions["errors"][0]["field"] == "email_address"
