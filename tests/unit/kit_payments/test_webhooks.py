"""Signed webhooks from the real payments_mock, over HTTP, into the demo service's intake."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta

import httpx
from standardwebhooks.webhooks import Webhook

from services.kit.payments import PaymentStatus, webhook_secret
from services.kit.settings import PAYMENTS_WEBHOOK_PATH
from tests.unit.kit_payments.conftest import Suite


async def _secret(suite: Suite) -> str:
    async with suite.demo_runtime.db.session(write=False) as session:
        secret = await webhook_secret(session)
    assert secret is not None
    assert secret.startswith("whsec_")
    return secret


async def test_a_paid_konbini_payment_moves_the_record_through_the_signed_webhook(
    suite: Suite,
) -> None:
    await suite.register()
    payment = await suite.charge("fee_paid1")
    assert payment.status is PaymentStatus.AWAITING_PAYMENT
    await suite.send_webhooks()  # ping + payment.created
    assert await suite.fee_status("fee_paid1") == "awaiting_payment"

    await suite.pay_konbini(payment, "familymart")
    assert await suite.fee_status("fee_paid1") == "awaiting_payment"  # not before the webhook
    await suite.send_webhooks()

    assert await suite.fee_status("fee_paid1") == "paid"
    assert await suite.applied_events(payment.id) == [
        ("payment.created", "awaiting_payment", "webhook"),
        ("payment.paid", "paid", "webhook"),
    ]
    [endpoint] = await suite.endpoints()
    [delivery] = await suite.deliveries(endpoint["id"], "payment.paid")
    assert delivery["status"] == "succeeded"
    assert delivery["last_status_code"] == 204


async def test_a_redelivered_webhook_is_acknowledged_and_applied_once(suite: Suite) -> None:
    await suite.register()
    payment = await suite.charge("fee_dup1")
    await suite.pay_konbini(payment)
    await suite.send_webhooks()
    [endpoint] = await suite.endpoints()
    [delivery] = await suite.deliveries(endpoint["id"], "payment.paid")

    again = await suite.call(
        "POST", f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/redeliver"
    )
    assert again.status_code == 202, again.text
    await suite.send_webhooks()

    [redelivered] = await suite.deliveries(endpoint["id"], "payment.paid")
    assert [a["status_code"] for a in redelivered["attempt_log"]] == [204, 204]
    assert await suite.applied_count(delivery["event_id"]) == 1
    # one relay pass delivers concurrently: the two events come in either order
    assert sorted(e[0] for e in await suite.applied_events(payment.id)) == [
        "payment.created",
        "payment.paid",
    ]


def _other_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def _signed(secret: str, body: bytes, *, msg_id: str, at: datetime) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


async def _post(suite: Suite, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=suite.demo.url) as http:
        return await http.post(PAYMENTS_WEBHOOK_PATH, content=body, headers=headers)


async def test_forged_stale_and_unsigned_webhooks_are_refused_and_change_nothing(
    suite: Suite,
) -> None:
    await suite.register()
    payment = await suite.charge("fee_forged1")
    real_secret = await _secret(suite)
    snapshot = payment.model_dump(mode="json") | {"status": "paid"}
    event = {
        "id": "evt_FORGED",
        "type": "payment.paid",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {"object": snapshot},
    }
    body = json.dumps(event).encode()
    now = datetime.now(UTC)

    forged = await _post(suite, body, _signed(_other_secret(), body, msg_id="evt_FORGED", at=now))
    assert forged.status_code == 401, forged.text
    assert forged.headers["content-type"] == "application/problem+json"
    assert forged.json()["type"] == "/problems/webhook-signature-invalid"

    stale = await _post(
        suite, body, _signed(real_secret, body, msg_id="evt_FORGED", at=now - timedelta(minutes=10))
    )
    assert stale.status_code == 401, stale.text

    tampered_headers = _signed(real_secret, body, msg_id="evt_FORGED", at=now)
    tampered = await _post(suite, body.replace(b'"paid"', b'"refunded"'), tampered_headers)
    assert tampered.status_code == 401

    garbled = await _post(
        suite, body, tampered_headers | {"webhook-signature": "v1,not base64!! v2"}
    )
    assert garbled.status_code == 401

    unsigned = await _post(suite, body, {"content-type": "application/json"})
    assert unsigned.status_code == 400
    assert unsigned.json()["header"] == "webhook-id"

    assert await suite.applied_events(payment.id) == []
    assert await suite.fee_status("fee_forged1") == "awaiting_payment"

    # The same body, correctly signed, is applied: the refusals above were the signature's.
    accepted = await _post(suite, body, _signed(real_secret, body, msg_id="evt_FORGED", at=now))
    assert accepted.status_code == 204, accepted.text
    assert await suite.fee_status("fee_forged1") == "paid"


async def test_before_registration_a_webhook_is_told_to_come_back(suite: Suite) -> None:
    body = b'{"type":"ping"}'
    at = datetime.now(UTC)
    response = await _post(suite, body, _signed(_other_secret(), body, msg_id="evt_EARLY", at=at))
    assert response.status_code == 503
    assert response.json()["type"] == "/problems/webhook-not-registered"


async def test_a_failing_handler_rolls_back_its_inbox_row_and_the_retry_applies_it(
    suite: Suite,
) -> None:
    await suite.register()
    payment = await suite.charge("fee_fail1")
    await suite.send_webhooks()
    suite.handler.fail_next = True
    await suite.pay_konbini(payment)
    await suite.send_webhooks()
    [endpoint] = await suite.endpoints()
    [delivery] = await suite.deliveries(endpoint["id"], "payment.paid")
    assert delivery["last_status_code"] == 500
    assert await suite.applied_count(delivery["event_id"]) == 0  # rolled back with the inbox
    assert await suite.fee_status("fee_fail1") == "awaiting_payment"

    await suite.advance_payments_clock(timedelta(minutes=2))  # the provider's first backoff
    await suite.send_webhooks()
    [retried] = await suite.deliveries(endpoint["id"], "payment.paid")
    assert retried["status"] == "succeeded"
    assert await suite.applied_count(delivery["event_id"]) == 1
    assert await suite.fee_status("fee_fail1") == "paid"
