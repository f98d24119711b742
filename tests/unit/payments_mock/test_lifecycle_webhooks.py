"""Every transition through the API, with the signed webhook it sends to a real HTTP receiver
(verified with the standardwebhooks library); time moves on the simulation clock."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from services.kit.clock import JST
from tests.unit.payments_mock.conftest import OTHER, Payments, Receiver


async def _endpoint(payments: Payments, receiver: Receiver, **extra: Any) -> dict[str, Any]:
    response = await payments.client.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url, "description": "fees", **extra},
        headers=payments.auth(),
    )
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    assert endpoint["secret"].startswith("whsec_")
    assert response.headers["location"] == f"/v1/webhook-endpoints/{endpoint['id']}"
    return endpoint


def _types(events: list[dict[str, Any]], payment_id: str) -> list[str]:
    return [
        e["type"] for e in events if e["type"] == "ping" or e["data"]["object"]["id"] == payment_id
    ]


async def test_paid_settled_and_refunded_each_send_their_webhook(
    payments: Payments, receiver: Receiver
) -> None:
    endpoint = await _endpoint(payments, receiver)
    created = await payments.create(amount=10_000)
    await payments.tick(force=True)
    events = receiver.verified(endpoint["secret"])
    # one relay pass delivers concurrently, so the ping and the first event come in any order
    assert sorted(_types(events, created["id"])) == ["payment.created", "ping"]

    receipt = await payments.pay_konbini(created, "familymart")
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["paid_via"] == "familymart"
    paid = await payments.client.get(f"/v1/payments/{created['id']}", headers=payments.auth())
    assert paid.json()["status"] == "paid"
    assert paid.json()["settles_at"] is not None
    await payments.tick()
    assert receiver.verified(endpoint["secret"])[-1]["type"] == "payment.paid"

    # 確報 comes some business days later (weekends and holidays skipped)
    settles_at = datetime.fromisoformat(paid.json()["settles_at"])
    assert settles_at.astimezone(JST).weekday() < 5
    await payments.advance(settles_at - payments.runtime.clock.now() + timedelta(minutes=6))
    await payments.tick()
    settled = await payments.get(created["id"])
    assert settled["status"] == "settled"
    assert settled["amount_refundable"] == 10_000
    assert receiver.verified(endpoint["secret"])[-1]["type"] == "payment.settled"

    url = f"/v1/payments/{created['id']}/refunds"
    stale = await payments.client.post(
        url, json={"amount": 3_000, "expected_refundable": 9_000}, headers=payments.auth()
    )
    assert stale.status_code == 422
    assert stale.json()["refundable"] == 10_000
    partial = await payments.client.post(
        url, json={"amount": 3_000, "expected_refundable": 10_000}, headers=payments.auth()
    )
    assert partial.status_code == 201, partial.text
    assert partial.json()["status"] == "partially_refunded"
    assert partial.json()["refunds"][0]["method"] == "bank_transfer"
    assert partial.json()["refunds"][0]["status"] == "pending"
    full = await payments.client.post(
        url, json={"amount": 7_000, "expected_refundable": 7_000}, headers=payments.auth()
    )
    assert full.json()["status"] == "refunded"
    assert full.json()["amount_refundable"] == 0
    again = await payments.client.post(
        url, json={"amount": 1, "expected_refundable": 0}, headers=payments.auth()
    )
    assert again.status_code == 409
    assert again.json()["current_state"] == "refunded"
    await payments.tick()
    events = receiver.verified(endpoint["secret"])
    # deliveries of one relay pass run concurrently: webhooks carry no order (use the history)
    assert sorted(_types(events, created["id"])[-2:]) == [
        "payment.partially_refunded",
        "payment.refunded",
    ]
    assert await payments.events(created["id"]) == [
        "payment.created",
        "payment.paid",
        "payment.settled",
        "payment.partially_refunded",
        "payment.refunded",
    ]
    history = (
        await payments.client.get(f"/v1/payments/{created['id']}/events", headers=payments.auth())
    ).json()["items"]
    assert [(e["from_status"], e["to_status"]) for e in history] == [
        (None, "awaiting_payment"),
        ("awaiting_payment", "paid"),
        ("paid", "settled"),
        ("settled", "partially_refunded"),
        ("partially_refunded", "refunded"),
    ]
    assert [e["seq"] for e in history] == [1, 2, 3, 4, 5]


async def test_cancel_expire_and_late_payment(payments: Payments, receiver: Receiver) -> None:
    endpoint = await _endpoint(payments, receiver)
    to_cancel = await payments.create()
    to_expire = await payments.create(expires_after_days=1)
    canceled = await payments.client.post(
        f"/v1/payments/{to_cancel['id']}/cancel",
        json={"reason": "申請取下げ"},
        headers=payments.auth(),
    )
    assert canceled.json()["status"] == "canceled"
    twice = await payments.client.post(
        f"/v1/payments/{to_cancel['id']}/cancel", headers=payments.auth()
    )
    assert twice.status_code == 409
    assert twice.json()["current_state"] == "canceled"
    assert twice.json()["type"] == "/problems/illegal-transition"
    late_pay = await payments.pay_konbini(to_cancel)
    assert late_pay.status_code == 409

    # the deadline passes; the sweep expires the payment
    deadline = datetime.fromisoformat(to_expire["expires_at"])
    await payments.advance(deadline - payments.runtime.clock.now() + timedelta(minutes=2))
    await payments.tick()
    expired = await payments.get(to_expire["id"])
    assert expired["status"] == "expired"
    at_store_now = await payments.pay_konbini(to_expire)
    assert at_store_now.status_code == 409  # the store refuses an expired slip

    # but one paid at the register 5 minutes before the deadline arrives now: a late payment
    late = await payments.client.post(
        f"/v1/simulate/payments/{to_expire['id']}/late-payment",
        json={"chain": "lawson", "minutes_before_expiry": 5},
        headers=payments.auth(),
    )
    assert late.status_code == 200, late.text
    assert late.json()["status"] == "paid"
    assert late.json()["late"] is True
    assert datetime.fromisoformat(late.json()["paid_at"]) < deadline
    await payments.tick()
    events = receiver.verified(endpoint["secret"])
    assert sorted(_types(events, to_cancel["id"])) == [
        "payment.canceled",
        "payment.created",
        "ping",
    ]
    late_events = {
        e["type"]: e
        for e in events
        if e["type"] != "ping" and e["data"]["object"]["id"] == to_expire["id"]
    }
    assert set(late_events) == {"payment.created", "payment.expired", "payment.paid"}
    assert late_events["payment.paid"]["data"]["late"] is True
    discrepancies = await payments.client.get(
        "/v1/settlements/discrepancies", headers=payments.auth()
    )
    kinds = [(d["kind"], d["payment_id"]) for d in discrepancies.json()["items"]]
    assert ("late_payment", to_expire["id"]) in kinds


async def test_force_expiry_expires_that_payment_and_moves_no_clock(payments: Payments) -> None:
    created = await payments.create(expires_after_days=60)
    mine_too = await payments.create(expires_after_days=5)
    theirs = await payments.create(OTHER, expires_after_days=5)
    offset = payments.runtime.clock.offset
    response = await payments.client.post(
        f"/v1/simulate/payments/{created['id']}/expire", headers=payments.auth()
    )
    assert response.status_code == 200, response.text
    expired = response.json()
    assert expired["status"] == "expired"
    assert payments.runtime.clock.offset == offset
    now = payments.runtime.clock.now()
    assert datetime.fromisoformat(expired["expires_at"]) <= now
    assert datetime.fromisoformat(expired["expired_at"]) <= now
    await payments.tick(force=True)
    assert (await payments.get(mine_too["id"]))["status"] == "awaiting_payment"
    assert (await payments.get(theirs["id"], OTHER))["status"] == "awaiting_payment"
    at_store = await payments.pay_konbini(created)
    assert at_store.status_code == 409
    again = await payments.client.post(
        f"/v1/simulate/payments/{created['id']}/expire", headers=payments.auth()
    )
    assert again.status_code == 409
    assert again.json()["current_state"] == "expired"
    late = await payments.client.post(
        f"/v1/simulate/payments/{created['id']}/late-payment", headers=payments.auth()
    )
    assert late.status_code == 200, late.text
    assert late.json()["status"] == "paid"
    assert late.json()["late"] is True


async def test_settled_card_refund_goes_back_to_the_card(payments: Payments) -> None:
    created = await payments.create(
        method="card", amount=5_000, card={"number": "4242424242424242"}
    )
    assert created["status"] == "paid"
    premature = await payments.client.post(
        f"/v1/payments/{created['id']}/refunds",
        json={"amount": 5_000, "expected_refundable": 5_000},
        headers=payments.auth(),
    )
    assert premature.status_code == 409
    assert premature.json()["current_state"] == "paid"
    await payments.advance(timedelta(days=10))
    await payments.tick()
    refunded = await payments.client.post(
        f"/v1/payments/{created['id']}/refunds",
        json={"amount": 5_000, "expected_refundable": 5_000},
        headers={**payments.auth(), "Idempotency-Key": "refund-1"},
    )
    assert refunded.status_code == 201, refunded.text
    refund = refunded.json()["refunds"][0]
    assert (refund["method"], refund["status"]) == ("card", "completed")
    assert refunded.json()["status"] == "refunded"


async def test_bank_transfer_refunds_stay_pending_then_complete(payments: Payments) -> None:
    created = await payments.create(amount=2_000)
    await payments.pay_konbini(created)
    await payments.advance(timedelta(days=10))
    await payments.tick()
    await payments.client.post(
        f"/v1/payments/{created['id']}/refunds",
        json={"amount": 500, "expected_refundable": 2_000},
        headers=payments.auth(),
    )
    report = (
        await payments.client.get("/v1/settlements/discrepancies", headers=payments.auth())
    ).json()
    assert [d["kind"] for d in report["items"]] == ["refund_pending"]
    await payments.advance(timedelta(days=10))
    await payments.tick()
    report = (
        await payments.client.get("/v1/settlements/discrepancies", headers=payments.auth())
    ).json()
    assert report["items"] == []
    assert (await payments.get(created["id"]))["refunds"][0]["status"] == "completed"


async def test_a_receiver_down_for_a_while_gets_every_event_when_it_comes_back(
    payments: Payments, receiver: Receiver
) -> None:
    receiver.down = True
    endpoint = await _endpoint(payments, receiver)
    first = await payments.create()
    await payments.tick(force=True)  # attempt 1 of ping and payment.created: 503
    await payments.pay_konbini(first)
    second = await payments.create(method="payeasy")
    await payments.tick()
    await payments.advance(timedelta(minutes=1))
    await payments.tick()  # attempt 2 (attempt 1 for the newer ones happened at once)
    await payments.advance(timedelta(minutes=5))
    await payments.tick()
    assert receiver.verified(endpoint["secret"]) == []
    receiver.down = False
    await payments.advance(timedelta(hours=1))
    await payments.tick()
    await payments.advance(timedelta(days=1))
    await payments.tick()
    events = receiver.verified(endpoint["secret"])
    got = {(e["type"], e["data"].get("object", {}).get("id")) for e in events}
    assert {
        ("ping", None),
        ("payment.created", first["id"]),
        ("payment.paid", first["id"]),
        ("payment.created", second["id"]),
    } <= got
    deliveries = (
        await payments.client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries",
            params={"event_type": "ping"},
            headers=payments.auth(),
        )
    ).json()["items"]
    [ping] = deliveries
    assert ping["status"] == "succeeded"
    log = ping["attempt_log"]
    assert [a["status_code"] for a in log] == [503, 503, 503, 204]
    assert [a["succeeded"] for a in log] == [False, False, False, True]
    assert all(a["latency_ms"] >= 0 for a in log)
    times = [datetime.fromisoformat(a["attempted_at"]) for a in log]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert timedelta(minutes=1) <= gaps[0] < timedelta(minutes=2)
    assert timedelta(minutes=5) <= gaps[1] < timedelta(minutes=6)


async def test_retries_follow_the_schedule_then_fail_and_can_be_redelivered(
    payments: Payments, receiver: Receiver
) -> None:
    receiver.down = True
    endpoint = await _endpoint(payments, receiver)
    await payments.tick(force=True)
    for wait in (
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(hours=1),
        timedelta(days=1),
        timedelta(days=2),
        timedelta(days=5),  # nothing more after the 6th attempt
    ):
        await payments.advance(wait + timedelta(seconds=1))
        await payments.tick()
    base = f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"
    [ping] = (await payments.client.get(base, headers=payments.auth())).json()["items"]
    assert ping["status"] == "failed"
    assert ping["attempts"] == 6
    assert len(receiver.requests) == 6
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 1

    receiver.down = False
    again = await payments.client.post(f"{base}/{ping['id']}/redeliver", headers=payments.auth())
    assert again.status_code == 202, again.text
    await payments.tick()
    one = (await payments.client.get(f"{base}/{ping['id']}", headers=payments.auth())).json()
    assert one["status"] == "succeeded"
    assert one["attempts"] == 7
    [event] = receiver.verified(endpoint["secret"])
    assert event["type"] == "ping"
    assert receiver.requests[-1].headers["webhook-id"] == receiver.requests[0].headers["webhook-id"]


def _keep_events_of(receiver: Receiver, payment_id: str) -> None:
    receiver.requests = [
        r
        for r in receiver.requests
        if json.loads(r.body)["data"].get("object", {}).get("id") == payment_id
    ]


async def test_secret_rotation_keeps_the_old_secret_signing_for_the_grace_period(
    payments: Payments, receiver: Receiver
) -> None:
    endpoint = await _endpoint(payments, receiver)
    rotated = await payments.client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
        json={"grace_period_hours": 24},
        headers=payments.auth(),
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != endpoint["secret"]
    first = await payments.create()
    await payments.tick(force=True)
    # the ping goes out in the same relay pass, in either order: keep the payment's event only
    _keep_events_of(receiver, first["id"])
    assert [e["type"] for e in receiver.verified(endpoint["secret"])] == ["payment.created"]
    assert [e["type"] for e in receiver.verified(new_secret)] == ["payment.created"]
    await payments.advance(timedelta(hours=25))
    second = await payments.create()
    await payments.tick()
    _keep_events_of(receiver, second["id"])
    assert [e["type"] for e in receiver.verified(new_secret)] == ["payment.created"]
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        receiver.verified(endpoint["secret"])


async def test_disable_filter_delete_and_ownership_of_endpoints(
    payments: Payments, receiver: Receiver
) -> None:
    endpoint = await _endpoint(payments, receiver, event_types=["payment.paid"])
    url = f"/v1/webhook-endpoints/{endpoint['id']}"
    created = await payments.create()
    await payments.tick(force=True)
    assert [e["type"] for e in receiver.verified(endpoint["secret"])] == ["ping"]
    disabled = await payments.client.patch(url, json={"enabled": False}, headers=payments.auth())
    assert disabled.json()["status"] == "disabled"
    await payments.pay_konbini(created)
    await payments.tick()
    assert [e["type"] for e in receiver.verified(endpoint["secret"])] == ["ping"]
    other = payments.auth("svc-someone-else")
    assert (await payments.client.get(url, headers=other)).status_code == 404
    assert (await payments.client.delete(url, headers=other)).status_code == 404
    listed = (await payments.client.get("/v1/webhook-endpoints", headers=payments.auth())).json()
    assert [e["id"] for e in listed["items"]] == [endpoint["id"]]
    assert "secret" not in listed["items"][0]
    assert (await payments.client.delete(url, headers=payments.auth())).status_code == 204
    assert (await payments.client.get(url, headers=payments.auth())).status_code == 404


async def test_callback_urls_are_checked_against_the_allow_list(payments: Payments) -> None:
    for url in (
        "http://example.com/hooks",
        "http://10.0.0.1/hooks",
        "ftp://127.0.0.1/hooks",
        "http://user:pw@127.0.0.1/hooks",
        "not a url",
    ):
        response = await payments.client.post(
            "/v1/webhook-endpoints", json={"url": url}, headers=payments.auth()
        )
        assert response.status_code == 422, url
        assert response.json()["errors"][0]["field"] == "url"
    for url in ("http://localhost:9/x", "https://[::1]:8443/x", "http://127.0.0.2/x"):
        response = await payments.client.post(
            "/v1/webhook-endpoints", json={"url": url}, headers=payments.auth()
        )
        assert response.status_code == 201, url
