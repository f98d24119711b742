"""Simulation acts only on the caller's own payments, answers a store payment with a receipt
(never the biller's record), and never moves the shared clock."""

from __future__ import annotations

from typing import Any

from .conftest import OTHER, Payments

PERSONAL: dict[str, Any] = {
    "payer": {"name": "市役所 花子", "email": "hanako@example.jp", "phone": "0312345678"},
    "reference": "APP-2026-0001",
    "metadata": {"application": "app_secret"},
}


def _konbini_body(payment: dict[str, Any], chain: str = "lawson") -> dict[str, Any]:
    store = next(s for s in payment["konbini"]["stores"] if s["chain"] == chain)
    return {
        "chain": chain,
        "payment_code": store["payment_code"],
        "confirmation_number": store["confirmation_number"],
    }


async def test_another_clients_store_payment_is_unknown(payments: Payments) -> None:
    created = await payments.create(**PERSONAL)
    wrong = await payments.client.post(
        "/v1/simulate/konbini/payments",
        json={
            **_konbini_body(created),
            "payment_code": "9" * len(_konbini_body(created)["payment_code"]),
        },
        headers=payments.auth(OTHER),
    )
    for _ in range(2):  # a second try reveals nothing either
        response = await payments.client.post(
            "/v1/simulate/konbini/payments",
            json=_konbini_body(created),
            headers=payments.auth(OTHER),
        )
        assert response.status_code == 404
        assert response.json()["detail"] == wrong.json()["detail"]
        for secret in ("花子", "hanako", "0312345678", "APP-2026", "app_secret", created["id"]):
            assert secret not in response.text
    by_barcode = await payments.client.post(
        "/v1/simulate/konbini/payments",
        json={"chain": "seven_eleven", "barcode": created["konbini"]["barcode"]},
        headers=payments.auth(OTHER),
    )
    assert by_barcode.status_code == 404
    assert (await payments.get(created["id"]))["status"] == "awaiting_payment"


async def test_another_clients_payeasy_payment_is_unknown(payments: Payments) -> None:
    created = await payments.create(method="payeasy", amount=30_000)
    numbers = created["payeasy"]
    body = {k: numbers[k] for k in ("institution_number", "customer_number", "confirmation_number")}
    response = await payments.client.post(
        "/v1/simulate/payeasy/payments", json=body, headers=payments.auth(OTHER)
    )
    assert response.status_code == 404
    assert created["id"] not in response.text
    assert (await payments.get(created["id"]))["status"] == "awaiting_payment"


async def test_a_store_payment_answers_with_a_receipt_only(payments: Payments) -> None:
    created = await payments.create(**PERSONAL)
    response = await payments.client.post(
        "/v1/simulate/konbini/payments",
        json=_konbini_body(created, "seven_eleven"),
        headers=payments.auth(),
    )
    assert response.status_code == 200, response.text
    receipt = response.json()
    assert set(receipt) == {
        "object",
        "payment_id",
        "method",
        "paid_via",
        "amount",
        "currency",
        "paid_at",
        "received_at",
        "late",
    }
    assert receipt["object"] == "receipt"
    assert receipt["payment_id"] == created["id"]
    assert (receipt["paid_via"], receipt["amount"], receipt["currency"]) == (
        "seven_eleven",
        4500,
        "JPY",
    )
    assert receipt["paid_at"].endswith("+09:00")
    for secret in ("花子", "hanako", "0312345678", "APP-2026", "app_secret"):
        assert secret not in response.text
    paid = await payments.get(created["id"])
    assert paid["status"] == "paid"
    assert paid["paid_via"] == "seven_eleven"


async def test_an_operator_may_pay_any_clients_slip(payments: Payments) -> None:
    created = await payments.create(OTHER)
    response = await payments.client.post(
        "/v1/simulate/konbini/payments",
        json=_konbini_body(created),
        headers=payments.tokens.admin(),
    )
    assert response.status_code == 200, response.text
    assert (await payments.get(created["id"], OTHER))["status"] == "paid"


async def test_only_the_gateway_moves_the_clock(payments: Payments) -> None:
    offset = payments.runtime.clock.offset
    move = {"advance_seconds": 86_400}
    for headers in (
        payments.auth(),  # payments:write
        payments.auth(scopes=("payments:write", "sim")),  # a client granted sim
        payments.tokens.admin(),  # an admin calling the service directly
    ):
        refused = await payments.client.post("/sim/clock", json=move, headers=headers)
        assert refused.status_code == 403, refused.text
        assert "/sim/clock" in refused.json()["detail"]
    assert payments.runtime.clock.offset == offset
    moved = await payments.client.post(
        "/sim/clock", json=move, headers=payments.tokens.service("svc-gateway", "sim")
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["offset_seconds"] == offset.total_seconds() + 86_400
