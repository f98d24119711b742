"""Integration tests of a client app against the whole cityhall suite, written as a user of
the pytest plugin would: install cityhall, and the fixtures are there (no conftest needed).

Run with `uv run pytest examples`; async tests need pytest-asyncio (here in auto mode)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from deploy.testing.clock import SimClock
from deploy.testing.mailbox import Mailbox
from deploy.testing.payments import Payments
from deploy.testing.plugin import Login
from deploy.testing.webhooks import Inbox


async def test_a_citizen_sees_the_procedures(cityhall_login: Login) -> None:
    taro = await cityhall_login("taro")
    page = (await taro.get("/v1/procedures", params={"limit": 3})).json()
    assert len(page["items"]) == 3


async def test_staff_log_in_with_their_one_time_code(cityhall_login: Login) -> None:
    bosai = await cityhall_login("bosai")
    me = (await bosai.get("/auth/me")).json()
    assert me["kind"] == "staff"
    assert "alert_publisher" in me["roles"]


async def test_a_new_citizen_gets_the_verification_mail(
    cityhall_http: httpx.AsyncClient, cityhall_mailbox: Mailbox
) -> None:
    answer = await cityhall_http.post(
        "/auth/register",
        json={
            "email": "new.citizen@example.jp",
            "password": "a long demo passphrase",
            "display_name": "新規 市民",
        },
    )
    assert answer.status_code == 202, answer.text
    mail = await cityhall_mailbox.wait_for(to="new.citizen@example.jp")
    assert mail.links, mail.text


async def test_a_konbini_payment_paid_at_a_store_reaches_my_webhook(
    cityhall_login: Login, cityhall_payments: Payments, cityhall_webhooks: Inbox
) -> None:
    app = await cityhall_login("demo-app")
    await cityhall_webhooks.register(app, event_types=["payment.paid"])
    payment = (
        await app.post(
            "/v1/payments",
            json={"amount": 300, "method": "konbini", "description": "住民票の写し"},
            headers={"Idempotency-Key": "example-konbini-1"},
        )
    ).json()

    receipt = await cityhall_payments.pay_at_store(payment, chain="lawson")

    delivery = await cityhall_webhooks.wait_for("payment.paid")
    assert delivery.verified
    assert delivery.json()["data"]["object"]["id"] == receipt["payment_id"]


async def test_a_declined_card(cityhall_login: Login, cityhall_payments: Payments) -> None:
    app = await cityhall_login("demo-app")
    answer = await app.post(
        "/v1/payments",
        json={
            "amount": 1200,
            "method": "card",
            "description": "施設使用料",
            "card": {"number": cityhall_payments.cards.declined},
        },
        headers={"Idempotency-Key": "example-card-1"},
    )
    payment = answer.json()
    assert payment["card"]["last_error"]["decline_code"] == "generic_decline", payment


async def test_the_clock_moves_for_every_service(cityhall_clock: SimClock) -> None:
    before = await cityhall_clock.now()
    after = await cityhall_clock.advance(timedelta(days=1))
    assert after - before >= timedelta(days=1)
