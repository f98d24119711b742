"""64 writes at once at one service, its relay and scheduler running: every write succeeds or
fails by a rule of the domain (a 409 naming the state), never for lack of the database lock."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from services.kit.app import RuntimeOptions
from services.payments_mock.app import create_app
from services.payments_mock.settings import Settings
from tests.support.apps import running
from tests.support.tokens import TokenFactory
from tests.unit.payments_mock.conftest import Payments

WRITERS = 64


@pytest.fixture
async def busy_payments(db_url: str, tokens: TokenFactory) -> AsyncIterator[Payments]:
    """payments_mock with its outbox relay and scheduler in the background, competing with
    the requests for the write lock as they do under `cityhall up`."""
    app: FastAPI = create_app(
        Settings(database_url=db_url, environment="test", log_access=False),
        RuntimeOptions(key_source=tokens.key_source(), background=True),
    )
    async with running(app) as client:
        yield Payments(app, client, tokens)


async def test_64_concurrent_creates_all_succeed(busy_payments: Payments) -> None:
    payments = busy_payments

    async def create(i: int) -> tuple[int, str]:
        response = await payments.client.post(
            "/v1/payments",
            json={"amount": 1000 + i, "method": "konbini", "description": "同時作成"},
            headers={**payments.auth(), "Idempotency-Key": f"concurrent-{i}"},
        )
        return response.status_code, response.text

    results = await asyncio.gather(*(create(i) for i in range(WRITERS)))
    assert [status for status, _ in results] == [201] * WRITERS, [
        text for status, text in results if status != 201
    ][:3]
    listed: set[int] = set()
    cursor: str | None = None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        page = await payments.client.get("/v1/payments", params=params, headers=payments.auth())
        assert page.status_code == 200, page.text
        listed.update(item["amount"] for item in page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert listed == {1000 + i for i in range(WRITERS)}


async def test_64_concurrent_transitions_of_one_payment_end_in_one_winner(
    busy_payments: Payments,
) -> None:
    """Half pay the slip at the store, half cancel it: both leave awaiting_payment, so exactly
    one write wins and every other one is a 409 naming the state the winner left."""
    payments = busy_payments
    payment = await payments.create()

    async def pay() -> tuple[int, dict[str, object]]:
        response = await payments.pay_konbini(payment)
        return response.status_code, response.json()

    async def cancel() -> tuple[int, dict[str, object]]:
        response = await payments.client.post(
            f"/v1/payments/{payment['id']}/cancel", json={}, headers=payments.auth()
        )
        return response.status_code, response.json()

    calls = [pay() if i % 2 == 0 else cancel() for i in range(WRITERS)]
    results = await asyncio.gather(*calls)
    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 1, 409: WRITERS - 1}, statuses
    final = await payments.get(payment["id"])
    assert final["status"] in {"paid", "canceled"}
    for status, body in results:
        if status == 409:
            assert body["status"] == 409
            assert body.get("current_state") == final["status"], body
    assert await payments.events(payment["id"]) == [
        "payment.created",
        "payment.paid" if final["status"] == "paid" else "payment.canceled",
    ]
