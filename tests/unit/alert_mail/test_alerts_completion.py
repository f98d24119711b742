"""Approval fans an alert out to its recipients; `complete_finished_alerts` completes it once
no delivery is left to attempt (the sending workers call it after each batch)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from deploy.mailsink import MailSink
from services.alert_mail.alerts_service import complete_finished_alerts
from services.alert_mail.models import Alert, AlertEvent, Delivery
from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.alerts_support import Staff, alert_body, audit_actions, send_four_eyes
from tests.unit.alert_mail.conftest import AlertMail
from tests.unit.alert_mail.delivery_support import Person, add_subscribers, quiet_service

PATIENCE = 15.0


@pytest.fixture
async def quiet_alert_mail(
    db_url: str, tokens: TokenFactory, sink: MailSink
) -> AsyncIterator[AlertMail]:
    """No sending worker: the test moves the deliveries itself."""
    async with quiet_service(db_url, tokens, sink, workers_in_process=0) as quiet:
        yield quiet


async def _set_status(alert_mail: AlertMail, alert_id: str, email: str, status: str) -> None:
    async with alert_mail.runtime.db.session() as session:
        await session.exec(
            update(Delivery)
            .where(col(Delivery.alert_id) == alert_id, col(Delivery.email) == email)
            .values(status=status)
        )


async def test_an_alert_completes_when_no_delivery_is_left_to_attempt(
    quiet_alert_mail: AlertMail, tokens: TokenFactory
) -> None:
    alert_mail = quiet_alert_mail
    db = alert_mail.runtime.db
    now = alert_mail.runtime.clock.now()
    await add_subscribers(
        db,
        [
            Person("a@example.jp", districts=("chuo",)),
            Person("b@example.jp", "en"),
            Person("c@example.jp", districts=("hokubu",)),  # other district
            Person("d@example.jp", categories=("weather",)),  # other category
        ],
        now,
    )
    alert = await send_four_eyes(alert_mail.client, Staff(tokens), alert_body(now))
    assert (alert["status"], alert["recipients"]) == ("sending", 2)

    async with db.session() as session:
        assert await complete_finished_alerts(session, now) == []
    await _set_status(alert_mail, alert["id"], "a@example.jp", "delivered")
    await _set_status(alert_mail, alert["id"], "b@example.jp", "temporary-failure")
    async with db.session() as session:
        assert await complete_finished_alerts(session, now, [alert["id"]]) == []
    await _set_status(alert_mail, alert["id"], "b@example.jp", "technical-failure")
    async with db.session() as session:
        assert await complete_finished_alerts(session, now, ["alt_other"]) == []
        assert await complete_finished_alerts(session, now, []) == []
        assert await complete_finished_alerts(session, now) == [alert["id"]]
        assert await complete_finished_alerts(session, now) == []  # once only

    async with db.session(write=False) as session:
        row = await session.get(Alert, alert["id"])
        events = (
            await session.exec(
                select(AlertEvent.transition).where(col(AlertEvent.alert_id) == alert["id"])
            )
        ).all()
    assert row is not None
    assert row.status == "completed"
    assert row.completed_at is not None
    assert list(events).count("complete") == 1
    assert (await audit_actions(db, alert["id"])).count("alert.completed") == 1


async def test_the_running_workers_deliver_an_approved_alert_and_complete_it(
    alert_mail: AlertMail, tokens: TokenFactory
) -> None:
    now = alert_mail.runtime.clock.now()
    await add_subscribers(
        alert_mail.runtime.db,
        [Person("resident1@example.jp", districts=("chuo",)), Person("resident2@example.jp", "en")],
        now,
    )
    staff = Staff(tokens)
    alert = await send_four_eyes(alert_mail.client, staff, alert_body(now))
    assert alert["recipients"] == 2
    for address in ("resident1@example.jp", "resident2@example.jp"):
        await alert_mail.sink.wait_for(to=address, within=PATIENCE)
    async with asyncio.timeout(PATIENCE):  # a guard, not a measurement
        while True:
            current = await alert_mail.client.get(
                f"/v1/alerts/{alert['id']}", headers=staff.author()
            )
            if current.json()["status"] == "completed":
                break
            await asyncio.sleep(0.05)
    assert current.json()["completed_at"] is not None
