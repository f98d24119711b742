"""Settlement per JST day as JSON and CSV, and the simulation gate."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from services.payments_mock.schemas import SettlementReport
from tests.support.apps import running
from tests.support.tokens import TokenFactory
from tests.unit.payments_mock.conftest import OTHER, Payments, make_app


async def test_settlement_by_channel_and_chain_as_json_and_csv(payments: Payments) -> None:
    a = await payments.create(amount=1_000)
    b = await payments.create(amount=2_000)
    c = await payments.create(amount=3_000, method="card", card={"number": "4242424242424242"})
    await payments.pay_konbini(a, "lawson")
    await payments.pay_konbini(b, "seven_eleven")
    day = payments.runtime.clock.now_jst().date()
    report = await payments.client.get(
        "/v1/settlements", params={"date": day.isoformat()}, headers=payments.auth()
    )
    assert report.status_code == 200, report.text
    parsed = SettlementReport.model_validate(report.json())
    assert parsed.totals.paid_count == 3
    assert parsed.totals.paid_amount == 6_000
    assert parsed.totals.settled_count == 0
    assert {(line.channel, line.via, line.paid_amount) for line in parsed.lines} == {
        ("card", "visa", 3_000),
        ("konbini", "lawson", 1_000),
        ("konbini", "seven_eleven", 2_000),
    }
    # another client's day is empty
    theirs = await payments.client.get(
        "/v1/settlements", params={"date": day.isoformat()}, headers=payments.auth(OTHER)
    )
    assert theirs.json()["totals"]["paid_count"] == 0

    await payments.advance(timedelta(days=7))
    await payments.tick()
    settled_day = (await payments.get(c["id"]))["settled_at"]
    assert settled_day is not None
    csv_response = await payments.client.get(
        "/v1/settlements",
        params={"date": payments.runtime.clock.now_jst().date().isoformat()},
        headers={**payments.auth(), "Accept": "text/csv"},
    )
    assert csv_response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    total = rows[-1]
    assert total["channel"] == "total"
    assert total["settled_count"] == "3"
    assert total["settled_amount"] == "6000"
    explicit = await payments.client.get(
        "/v1/settlements",
        params={"date": day.isoformat(), "format": "csv"},
        headers=payments.auth(),
    )
    assert explicit.text.splitlines()[-1].startswith(f"{day.isoformat()},total,,3,6000")


async def test_simulation_endpoints_refuse_outside_simulation_mode(
    db_url: str, tokens: TokenFactory
) -> None:
    app = make_app(db_url, tokens, simulation=False)
    async with running(app) as client:
        headers = tokens.service("svc-x", "payments:write", "sim")
        for path, body in (
            ("/v1/simulate/konbini/payments", {"chain": "lawson", "payment_code": "1"}),
            ("/v1/simulate/payeasy/payments", {}),
            ("/v1/simulate/payments/pay_01JD0000000000000000000000/late-payment", {}),
            ("/v1/simulate/payments/pay_01JD0000000000000000000000/expire", {}),
        ):
            response = await client.post(path, json=body, headers=headers)
            assert response.status_code == 404, path
            assert "simulation" in response.json()["detail"]


async def test_simulation_needs_a_simulating_principal(payments: Payments) -> None:
    created = await payments.create()
    reader = payments.auth(scopes=("payments:read",))
    response = await payments.client.post(
        f"/v1/simulate/payments/{created['id']}/expire", headers=reader
    )
    assert response.status_code == 403
    stranger = payments.auth(OTHER)  # payments:write, but not the owner
    response = await payments.client.post(
        f"/v1/simulate/payments/{created['id']}/expire", headers=stranger
    )
    assert response.status_code == 404
    operator = payments.tokens.admin()
    response = await payments.client.post(
        f"/v1/simulate/payments/{created['id']}/expire", headers=operator
    )
    assert response.status_code == 200
