from __future__ import annotations

from tests.unit.payments_mock.conftest import Payments


async def test_smoke(payments: Payments) -> None:
    created = await payments.create()
    assert created["status"] == "awaiting_payment"
    paid = await payments.pay_konbini(created)
    assert paid.status_code == 200, paid.text
    assert paid.json()["status"] == "paid"
    assert await payments.events(created["id"]) == ["payment.created", "payment.paid"]
