"""Creating and reading payments through the API: konbini, Pay-easy, card; ownership, scopes,
listing, idempotency and bad input."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import pytest
import zxingcpp
from lxml import etree
from PIL import Image, ImageDraw

from services.kit.clock import JST
from services.payments_mock.domain import gs1_barcode
from tests.unit.payments_mock.conftest import CLIENT, OTHER, Payments

SVG_NS = "{http://www.w3.org/2000/svg}"
CHAINS = {"seven_eleven", "lawson", "familymart", "ministop", "dailyyamazaki", "seicomart"}


def _rasterize(svg: str, px_per_mm: float = 20) -> Image.Image:
    root = etree.fromstring(svg.encode(), etree.XMLParser(resolve_entities=False))

    def mm(value: object) -> float:
        assert isinstance(value, str)
        assert value.endswith("mm")
        return float(value[:-2]) * px_per_mm

    image = Image.new("L", (round(mm(root.attrib["width"])), round(mm(root.attrib["height"]))), 255)
    draw = ImageDraw.Draw(image)
    for rect in root.iter(f"{SVG_NS}rect"):
        if "fill:black" in rect.attrib.get("style", ""):
            x, y = mm(rect.attrib["x"]), mm(rect.attrib["y"])
            w, h = mm(rect.attrib["width"]), mm(rect.attrib["height"])
            draw.rectangle((round(x), round(y), round(x + w) - 1, round(y + h) - 1), fill=0)
    return image


async def test_konbini_payment_has_every_chain_a_valid_barcode_and_the_deadline(
    payments: Payments,
) -> None:
    created = await payments.create(amount=12_345, expires_after_days=2, reference="2026-000123")
    assert created["id"].startswith("pay_")
    assert created["status"] == "awaiting_payment"
    assert created["currency"] == "JPY"
    konbini = created["konbini"]
    assert {s["chain"] for s in konbini["stores"]} == CHAINS
    names = {s["chain_name"] for s in konbini["stores"]}
    assert {"セブン-イレブン", "ローソン", "ファミリーマート", "ミニストップ"} <= names
    lawson = next(s for s in konbini["stores"] if s["chain"] == "lawson")
    assert len(lawson["payment_code"]) == 14
    assert len(lawson["confirmation_number"]) == 4
    slip = gs1_barcode.parse(konbini["barcode"])  # check digit and layout verified
    assert len(konbini["barcode"]) == 44
    assert slip.amount == 12_345
    assert slip.company_code == "912345"
    # 23:59:59 JST on the 2nd day after today (JST)
    expires = datetime.fromisoformat(created["expires_at"])
    assert expires.utcoffset() == timedelta(hours=9)
    assert (expires.hour, expires.minute, expires.second) == (23, 59, 59)
    today = payments.runtime.clock.now_jst().date()
    assert expires.date() == today + timedelta(days=2) == slip.deadline
    again = await payments.get(created["id"])
    assert again == created  # the same numbers every time


async def test_voucher_page_prints_a_barcode_a_decoder_reads_back(payments: Payments) -> None:
    created = await payments.create(amount=4_500)
    url = created["konbini"]["voucher_url"]
    path = url.split("://", 1)[1].split("/", 1)[1]
    response = await payments.client.get("/" + path)  # no token needed, the link is the key
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "コンビニ払込票" in html
    assert "4,500円" in html
    assert "ローソン" in html
    svg = re.search(r"<svg.*?</svg>", html, re.DOTALL)
    assert svg is not None
    [result] = zxingcpp.read_barcodes(_rasterize(svg.group(0)))
    assert result.format == zxingcpp.BarcodeFormat.Code128
    assert result.symbology_identifier == "]C1"  # GS1-128
    assert result.bytes == created["konbini"]["barcode"].encode()
    bad = await payments.client.get(f"/v1/payments/{created['id']}/voucher", params={"token": "00"})
    assert bad.status_code == 404
    assert bad.headers["content-type"] == "application/problem+json"


async def test_the_vouchers_barcode_is_an_svg_image_with_the_pages_token(
    payments: Payments,
) -> None:
    created = await payments.create(amount=4_500)
    url = created["konbini"]["voucher_url"]
    path, query = url.split("://", 1)[1].split("/", 1)[1].split("?", 1)
    response = await payments.client.get(f"/{path}/barcode.svg?{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    [result] = zxingcpp.read_barcodes(_rasterize(response.text))
    assert result.symbology_identifier == "]C1"  # GS1-128
    assert result.bytes == created["konbini"]["barcode"].encode()
    bad = await payments.client.get(f"/{path}/barcode.svg", params={"token": "00"})
    assert bad.status_code == 404


async def test_payeasy_payment_shows_the_three_numbers_and_pays_by_them(payments: Payments) -> None:
    created = await payments.create(method="payeasy", amount=30_000)
    numbers = created["payeasy"]
    assert re.fullmatch(r"\d{5}", numbers["institution_number"])
    assert re.fullmatch(r"\d{1,20}", numbers["customer_number"])
    assert re.fullmatch(r"\d{6}", numbers["confirmation_number"])
    assert any(numbers["institution_number"] in step for step in numbers["atm_steps"])
    wrong = {
        **numbers,
        "confirmation_number": "000000" if numbers["confirmation_number"] != "000000" else "111111",
    }
    body = {k: wrong[k] for k in ("institution_number", "customer_number", "confirmation_number")}
    refused = await payments.client.post(
        "/v1/simulate/payeasy/payments", json=body, headers=payments.auth()
    )
    assert refused.status_code == 404
    body = {k: numbers[k] for k in ("institution_number", "customer_number", "confirmation_number")}
    paid = await payments.client.post(
        "/v1/simulate/payeasy/payments",
        json={**body, "channel": "net_banking"},
        headers=payments.auth(),
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["paid_via"] == "net_banking"
    assert (await payments.get(created["id"]))["status"] == "paid"


async def test_konbini_pays_by_barcode_at_any_chain(payments: Payments) -> None:
    created = await payments.create()
    response = await payments.client.post(
        "/v1/simulate/konbini/payments",
        json={"chain": "seven_eleven", "barcode": created["konbini"]["barcode"]},
        headers=payments.auth(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["paid_via"] == "seven_eleven"
    twice = await payments.pay_konbini(created, "familymart")
    assert twice.status_code == 409
    assert twice.json()["current_state"] == "paid"


@pytest.mark.parametrize(
    ("number", "status", "error"),
    [
        ("4242 4242 4242 4242", "paid", None),
        ("4000000000000002", "awaiting_payment", "declined"),
        ("4000000000000119", "awaiting_payment", "network_error"),
    ],
)
async def test_card_test_numbers(
    payments: Payments, number: str, status: str, error: str | None
) -> None:
    created = await payments.create(method="card", amount=2_000_000, card={"number": number})
    assert created["status"] == status
    assert created["card"]["last4"] == number[-4:]
    last_error = created["card"]["last_error"]
    assert (last_error or {}).get("kind") == error
    if error is not None:
        retried = await payments.client.post(
            f"/v1/payments/{created['id']}/card-attempts",
            json={"card": {"number": "4242424242424242"}},
            headers=payments.auth(),
        )
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "paid"
        assert retried.json()["card"]["last_error"] is None


async def test_a_client_sees_only_its_own_payments(payments: Payments) -> None:
    mine = await payments.create()
    other = await payments.client.get(f"/v1/payments/{mine['id']}", headers=payments.auth(OTHER))
    assert other.status_code == 404
    events = await payments.client.get(
        f"/v1/payments/{mine['id']}/events", headers=payments.auth(OTHER)
    )
    assert events.status_code == 404
    cancel = await payments.client.post(
        f"/v1/payments/{mine['id']}/cancel", headers=payments.auth(OTHER)
    )
    assert cancel.status_code == 404
    listed = await payments.client.get("/v1/payments", headers=payments.auth(OTHER))
    assert listed.json()["items"] == []
    unknown = await payments.client.get(
        "/v1/payments/pay_01JD0000000000000000000000", headers=payments.auth()
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


async def test_scopes_are_checked(payments: Payments) -> None:
    created = await payments.create()
    read_only = payments.auth(CLIENT, ("payments:read",))
    assert (
        await payments.client.get(f"/v1/payments/{created['id']}", headers=read_only)
    ).status_code == 200
    body = {"amount": 100, "method": "konbini", "description": "x"}
    assert (
        await payments.client.post("/v1/payments", json=body, headers=read_only)
    ).status_code == 403
    no_scope = payments.auth(CLIENT, ())
    assert (await payments.client.get("/v1/payments", headers=no_scope)).status_code == 403
    assert (await payments.client.get("/v1/payments")).status_code == 401
    hooks = await payments.client.get("/v1/webhook-endpoints", headers=read_only)
    assert hooks.status_code == 403
    # a citizen app holding the scope owns what it creates
    app = payments.tokens.headers("cit_app", kind="citizen", scopes=("payments:write",))
    made = await payments.client.post("/v1/payments", json=body, headers=app)
    assert made.status_code == 201


async def test_list_filters_and_cursor_paging(payments: Payments) -> None:
    ids = [
        (await payments.create(reference=f"ref-{i % 2}", method="payeasy" if i < 3 else "konbini"))[
            "id"
        ]
        for i in range(7)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (
            await payments.client.get("/v1/payments", params=params, headers=payments.auth())
        ).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    by_ref = await payments.client.get(
        "/v1/payments", params={"reference": "ref-1"}, headers=payments.auth()
    )
    assert {p["reference"] for p in by_ref.json()["items"]} == {"ref-1"}
    assert len(by_ref.json()["items"]) == 3
    by_method = await payments.client.get(
        "/v1/payments",
        params={"method": "payeasy", "status": "awaiting_payment"},
        headers=payments.auth(),
    )
    assert len(by_method.json()["items"]) == 3
    now = payments.runtime.clock.now()
    future = await payments.client.get(
        "/v1/payments",
        params={"created_from": (now + timedelta(hours=1)).isoformat()},
        headers=payments.auth(),
    )
    assert future.json()["items"] == []
    past = await payments.client.get(
        "/v1/payments",
        params={"created_to": (now + timedelta(hours=1)).isoformat(), "limit": 100},
        headers=payments.auth(),
    )
    assert len(past.json()["items"]) == 7


async def _refund(payments: Payments, payment: dict[str, Any], amount: int) -> None:
    refundable = (await payments.get(payment["id"]))["amount_refundable"]
    response = await payments.client.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": amount, "expected_refundable": refundable},
        headers=payments.auth(),
    )
    assert response.status_code == 201, response.text


async def test_list_items_carry_their_refunds_like_a_single_read(payments: Payments) -> None:
    oldest, middle, newest = [await payments.create(amount=3_000) for _ in range(3)]
    for payment in (oldest, newest):
        await payments.pay_konbini(payment)
    await payments.advance(timedelta(days=10))
    await payments.tick()  # settled: refunds are allowed
    await _refund(payments, newest, 1_000)
    await _refund(payments, newest, 500)
    await _refund(payments, oldest, 3_000)

    listed: list[dict[str, Any]] = []
    cursor = None
    while True:  # two per page: the newest payment's two refunds must not shorten the page
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await payments.client.get("/v1/payments", params=params, headers=payments.auth())
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) == (2 if not listed else 1)
        listed += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [p["id"] for p in listed] == [newest["id"], middle["id"], oldest["id"]]
    assert [sorted(r["amount"] for r in p["refunds"]) for p in listed] == [
        [500, 1_000],
        [],
        [3_000],
    ]
    assert listed[0]["status"] == "partially_refunded"
    assert listed[2]["refunds"][0]["method"] == "bank_transfer"
    for item in listed:
        assert item == await payments.get(item["id"])


async def test_a_refund_is_read_at_its_location_by_its_client_only(payments: Payments) -> None:
    payment = await payments.create(amount=3_000)
    await payments.pay_konbini(payment)
    await payments.advance(timedelta(days=10))
    await payments.tick()  # settled: refunds are allowed
    url = f"/v1/payments/{payment['id']}/refunds"
    body = {"amount": 1_000, "expected_refundable": 3_000, "reason": "一部取消"}
    headers = {**payments.auth(), "Idempotency-Key": "refund-part-1"}
    created = await payments.client.post(url, json=body, headers=headers)
    assert created.status_code == 201, created.text
    (refund,) = created.json()["refunds"]
    assert created.headers["location"] == f"{url}/{refund['id']}"

    located = await payments.client.get(created.headers["location"], headers=payments.auth())
    assert located.status_code == 200, located.text
    assert located.json() == refund  # the refund as the create's payment lists it
    assert located.json()["amount"] == 1_000
    read_only = payments.auth(CLIENT, ("payments:read",))
    assert (await payments.client.get(created.headers["location"], headers=read_only)).json() == (
        refund
    )

    replay = await payments.client.post(url, json=body, headers=headers)
    assert replay.status_code == 200
    assert replay.headers["location"] == created.headers["location"]
    assert replay.content == created.content

    other = await payments.client.get(created.headers["location"], headers=payments.auth(OTHER))
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    another = await payments.create(amount=3_000)  # the refund under another payment's id
    moved = await payments.client.get(
        f"/v1/payments/{another['id']}/refunds/{refund['id']}", headers=payments.auth()
    )
    assert moved.status_code == 404
    unknown = await payments.client.get(
        f"{url}/re_01JD0000000000000000000000", headers=payments.auth()
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["status"] == 404
    assert other.json()["title"] == unknown.json()["title"]


async def test_fifty_concurrent_identical_creates_make_one_payment(payments: Payments) -> None:
    body = {"amount": 4500, "method": "konbini", "description": "施設使用料", "reference": "rsv-1"}
    headers = {**payments.auth(), "Idempotency-Key": "rsv-1-fee"}
    responses = await asyncio.gather(
        *(payments.client.post("/v1/payments", json=body, headers=headers) for _ in range(50))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 49 + [201], statuses
    assert len({r.content for r in responses}) == 1
    payment_id = responses[0].json()["id"]
    assert {r.headers["location"] for r in responses} == {f"/v1/payments/{payment_id}"}
    located = await payments.client.get(responses[0].headers["location"], headers=payments.auth())
    assert located.json()["id"] == payment_id
    listed = await payments.client.get(
        "/v1/payments", params={"reference": "rsv-1"}, headers=payments.auth()
    )
    assert len(listed.json()["items"]) == 1
    different = await payments.client.post(
        "/v1/payments", json={**body, "amount": 4600}, headers=headers
    )
    assert different.status_code == 422


async def test_expires_at_sets_the_last_day(payments: Payments) -> None:
    last_day = payments.runtime.clock.now_jst().date() + timedelta(days=10)
    created = await payments.create(expires_at=last_day.isoformat())
    expires = datetime.fromisoformat(created["expires_at"])
    assert expires == datetime(last_day.year, last_day.month, last_day.day, 23, 59, 59, tzinfo=JST)


BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"description": "a\u0000b"}, "description"),
    ({"payer": {"name": "\u0000"}}, "payer.name"),
    ({"metadata": {"k": "v\u0000"}}, "metadata"),
    ({"reference": "r\x00"}, "reference"),
    ({"amount": 10**30}, "amount"),
    ({"amount": 1_000_000}, "amount"),
    ({"amount": 0}, "amount"),
    ({"amount": -5}, "amount"),
    ({"amount": "4500yen"}, "amount"),
    ({"amount": "3000"}, "amount"),  # a string is not a JSON number, even when it reads as one
    ({"expires_after_days": "3"}, "expires_after_days"),
    ({"currency": "USD"}, "currency"),
    ({"unknown": 1}, "unknown"),
    ({"payer": {"name": "x", "age": 3}}, "payer.age"),
    ({"method": "bitcoin"}, "method"),
    ({"description": "あ" * 23}, "description"),
    ({"expires_after_days": 61}, "expires_after_days"),
    ({"expires_after_days": 0}, "expires_after_days"),
    ({"expires_after_days": 3, "expires_at": "2030-01-01"}, "expires_at"),
    ({"expires_at": "2000-01-01"}, "expires_at"),
    ({"expires_at": "9999-12-31T23:59:59-12:00"}, "expires_at"),
    ({"expires_at": "0001-01-01T00:00:00+14:00"}, "expires_at"),
    ({"card": {"number": "4242424242424242"}}, "card"),
    ({"method": "card", "card": {"number": "4242424242424241"}}, "card.number"),
    ({"method": "card"}, "card"),
]


@pytest.mark.parametrize(("patch", "field"), BAD_BODIES)
async def test_bad_input_is_a_problem_naming_the_field(
    payments: Payments, patch: dict[str, Any], field: str
) -> None:
    body: dict[str, Any] = {"amount": 4500, "method": "konbini", "description": "x", **patch}
    response = await payments.client.post("/v1/payments", json=body, headers=payments.auth())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    fields = [e["field"] for e in response.json().get("errors", [])]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/payments", {"reference": "a\x00b"}),
        ("/v1/payments", {"cursor": "%%%"}),
        ("/v1/payments", {"cursor": "Wzld"}),
        ("/v1/payments", {"limit": "1000"}),
        ("/v1/payments", {"created_from": "2026-01-01T00:00:00"}),
        ("/v1/payments/pay_%00", {}),
        ("/v1/payments/not-an-id", {}),
        ("/v1/settlements", {"date": "2026-02-30"}),
        ("/v1/settlements", {"date": "0001-01-01"}),
        ("/v1/payments", {"created_from": "9999-12-31T23:59:59-23:00"}),
    ],
)
async def test_bad_queries_are_problems_never_500(
    payments: Payments, path: str, params: dict[str, str]
) -> None:
    response = await payments.client.get(path, params=params, headers=payments.auth())
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_malformed_json_and_huge_bodies_are_problems(payments: Payments) -> None:
    headers = {**payments.auth(), "content-type": "application/json"}
    broken = await payments.client.post("/v1/payments", content=b'{"amount": ', headers=headers)
    assert broken.status_code == 400
    assert broken.json()["errors"][0]["line"] == 1
    huge = await payments.client.post(
        "/v1/payments", content=b'{"x":"' + b"a" * 2_000_000 + b'"}', headers=headers
    )
    assert huge.status_code == 413


async def test_payment_methods_are_a_list_like_every_other(payments: Payments) -> None:
    listed = (await payments.client.get("/v1/payment-methods")).json()
    assert listed["next_cursor"] is None
    assert {m["method"] for m in listed["items"]} == {"konbini", "payeasy", "card"}


async def test_voucher_page_whose_url_carries_its_token_sends_no_referrer(
    payments: Payments,
) -> None:
    created = await payments.create(amount=4_500)
    path = created["konbini"]["voucher_url"].split("://", 1)[1].split("/", 1)[1]
    response = await payments.client.get("/" + path)
    assert response.status_code == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
