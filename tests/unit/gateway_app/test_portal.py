"""The demo portal's files on the gateway (page headers, nothing shadowed) and the simulated
store register it pays through (the gateway plays the store with its own `sim` token)."""

from __future__ import annotations

import json
from typing import Any

import jwt

from .support import GatewayFactory, json_app

PAGE_CSP_PARTS = ("script-src 'self'", "default-src 'self'", "frame-ancestors 'none'")


async def test_the_portal_shell_and_its_files_are_served_with_page_headers(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        shells = [await gw.client.get(path) for path in ("/", "/staff", "/kiosk")]
        script = await gw.client.get("/portal/app.js")
        catalogue = await gw.client.get("/portal/i18n/ja.json")
        missing = await gw.client.get("/portal/nothing-here.js")
        own_paths = ("/healthz", "/docs", "/.well-known/jwks.json")
        own = [await gw.client.get(path) for path in own_paths]
    for shell in shells:
        assert shell.status_code == 200
        assert shell.headers["content-type"].startswith("text/html")
        assert '<html lang="ja">' in shell.text
        assert '<script type="module" src="/portal/app.js">' in shell.text
        assert "<script>" not in shell.text  # no inline script: the CSP forbids it
        for part in PAGE_CSP_PARTS:
            assert part in shell.headers["content-security-policy"]
        assert shell.headers["x-frame-options"] == "DENY"
        assert shell.headers["referrer-policy"] == "no-referrer"
        assert shell.headers["x-content-type-options"] == "nosniff"
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    assert json.loads(catalogue.text)["site_name"] == "デモ市 電子窓口"
    assert missing.status_code == 404
    assert [r.status_code for r in own] == [200, 200, 200]
    assert own[1].text != shells[0].text


async def test_the_catalogues_have_the_same_keys() -> None:
    from gateway.portal.routes import STATIC

    ja = json.loads((STATIC / "i18n" / "ja.json").read_text(encoding="utf-8"))
    en = json.loads((STATIC / "i18n" / "en.json").read_text(encoding="utf-8"))
    assert set(ja) == set(en)
    assert all(ja.values())
    assert all(en.values())


def _payments(calls: list[dict[str, Any]], status: int, answer: dict[str, Any]) -> Any:
    async def handler(info: dict[str, Any]) -> tuple[int, Any]:
        calls.append(info)
        return status, answer

    return json_app(handler)


async def test_a_signed_in_slip_holder_pays_at_the_register_through_the_gateway(
    make_gateway: GatewayFactory,
) -> None:
    calls: list[dict[str, Any]] = []
    receipt = {"object": "receipt", "payment_id": "pay_1", "amount": 3000, "paid_via": "lawson"}
    payments = _payments(calls, 200, receipt)
    async with make_gateway(
        upstream_apps={"payments_mock": payments}, upstreams={"payments_mock": "http://unused"}
    ) as gw:
        citizen = {"Authorization": f"Bearer {gw.token()}"}
        slip = {"chain": "lawson", "barcode": "9191"}
        paid = await gw.client.post("/sim/registers/konbini", json=slip, headers=citizen)
        anonymous = await gw.client.post("/sim/registers/konbini", json=slip)
        unknown = await gw.client.post("/sim/registers/bank", json=slip, headers=citizen)
    assert paid.status_code == 200, paid.text
    assert paid.json() == receipt
    assert anonymous.status_code == 401
    assert unknown.status_code == 422
    assert len(calls) == 1
    assert calls[0]["path"] == "/v1/simulate/konbini/payments"
    assert json.loads(calls[0]["body"]) == slip
    token = calls[0]["headers"]["authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["kind"], claims["scope"]) == ("service", "sim")


async def test_the_register_passes_payments_mock_problems_on_and_is_off_outside_simulation(
    make_gateway: GatewayFactory,
) -> None:
    calls: list[dict[str, Any]] = []
    problem = {"type": "/problems/not-found", "title": "Not found", "status": 404}
    wiring = {
        "upstream_apps": {"payments_mock": _payments(calls, 404, problem)},
        "upstreams": {"payments_mock": "http://unused"},
    }
    slip = {"institution_number": "1", "customer_number": "2", "confirmation_number": "3"}
    async with make_gateway(**wiring) as gw:
        citizen = {"Authorization": f"Bearer {gw.token()}"}
        wrong = await gw.client.post("/sim/registers/payeasy", json=slip, headers=citizen)
    async with make_gateway(**wiring, simulation=False) as gw:
        citizen = {"Authorization": f"Bearer {gw.token()}"}
        off = await gw.client.post("/sim/registers/payeasy", json=slip, headers=citizen)
    assert wrong.status_code == 404
    assert wrong.json() == problem
    assert calls[0]["path"] == "/v1/simulate/payeasy/payments"
    assert off.status_code == 404
    assert len(calls) == 1
