"""The sign-up page and its QR code, input validation as RFC 9457 problems, and the counts
staff may see."""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image

from tests.unit.alert_mail.conftest import BROWSER, PUBLIC_URL, AlertMail, demo_city
from tests.unit.alert_mail.subscription_support import subscribe_confirmed, subscription


async def test_qr_code_opens_the_sign_up_page(alert_mail: AlertMail) -> None:
    png = await alert_mail.client.get("/v1/subscriptions/qr.png", params={"size": 6})
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert code.text == f"{PUBLIC_URL}/v1/subscriptions/signup"

    svg = await alert_mail.client.get("/v1/subscriptions/qr.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content

    for size in (0, 41, -1):
        refused = await alert_mail.client.get("/v1/subscriptions/qr.png", params={"size": size})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "query.size"


async def test_sign_up_page_lists_the_seeded_choices_accessibly(alert_mail: AlertMail) -> None:
    page = await alert_mail.client.get("/v1/subscriptions/signup")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="ja">' in html
    assert 'name="viewport"' in html
    assert "<script" not in html
    assert 'method="post" action="/v1/subscriptions"' in html
    for category in demo_city()["alert_categories"]:
        code = category["code"]
        assert f'id="categories-{code}" name="categories" value="{code}"' in html
        assert f'<label for="categories-{code}">{category["name_ja"]}</label>' in html
    for district in demo_city()["districts"]:
        assert f'<label for="districts-{district["code"]}">{district["name_ja"]}</label>' in html
    assert '<label class="field" for="email">' in html
    assert '<option value="ko">한국어</option>' in html
    assert "min-height:48px" in html
    inputs = re.findall(r'<input [^>]*id="([^"]+)"', html)
    labels = set(re.findall(r'<label[^>]* for="([^"]+)"', html))
    assert inputs
    assert set(inputs) <= labels


async def test_the_page_form_posts_to_the_api_and_says_the_mail_was_sent(
    alert_mail: AlertMail,
) -> None:
    form = {
        "email": "form@example.jp",
        "categories": ["disaster", "suspicious-person"],
        "districts": ["nanbu"],
        "language": "ja",
        "plain_japanese": "true",
    }
    sent = await alert_mail.client.post("/v1/subscriptions", data=form)
    assert sent.status_code == 202
    assert sent.headers["content-type"].startswith("text/html")
    assert "確認メールを送信しました" in sent.text
    [mail] = await alert_mail.sink.wait_for(to="form@example.jp")
    assert "災害情報、不審者情報" in (mail.text or "")
    assert "南部" in (mail.text or "")
    assert "やさしい日本語" in (mail.text or "")

    wrong = await alert_mail.client.post(
        "/v1/subscriptions",
        data={"email": "not an address", "categories": ["disaster"]},
        headers=BROWSER,
    )
    by_a_script = await alert_mail.client.post(
        "/v1/subscriptions", data={"email": "not an address", "categories": ["disaster"]}
    )
    assert by_a_script.status_code == 422
    assert by_a_script.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in by_a_script.json()["errors"]] == ["email"]
    assert wrong.status_code == 422
    assert "メールアドレスを正しく入力してください" in wrong.text
    assert 'value="disaster" checked' in wrong.text  # the choices survive the error


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@example.jp", "categories": ["disaster", "ufo"]}, "categories[1]"),
        ({"email": "a@example.jp", "categories": ["disaster"], "districts": ["x"]}, "districts[0]"),
        ({"email": "a@@example.jp", "categories": ["disaster"]}, "email"),
        ({"email": "a@example", "categories": ["disaster"]}, "email"),
        ({"email": "a b@example.jp", "categories": ["disaster"]}, "email"),
        ({"email": "a@example.jp\r\nBcc: x@y.jp", "categories": ["disaster"]}, "email"),
        ({"email": "a@example.jp", "categories": []}, "categories"),
        ({"email": "a@example.jp"}, "categories"),
        ({"email": "a@example.jp", "categories": ["disaster"], "language": "fr"}, "language"),
        ({"email": "a@example.jp", "categories": ["disaster"], "admin": True}, "admin"),
        ({"email": "a@example.jp\x00", "categories": ["disaster"]}, "email"),
        ({"email": "a@example.jp", "categories": ["disaster"] * 51}, "categories"),
    ],
)
async def test_bad_sign_ups_are_problems_naming_the_field(
    alert_mail: AlertMail, body: dict[str, object], field: str
) -> None:
    response = await alert_mail.client.post("/v1/subscriptions", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == field


async def test_a_body_that_is_not_json_is_a_problem(alert_mail: AlertMail) -> None:
    response = await alert_mail.client.post(
        "/v1/subscriptions", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"


async def test_staff_see_counts_without_personal_data(alert_mail: AlertMail) -> None:
    await subscribe_confirmed(alert_mail, "c1@example.jp", districts=["chuo"])
    await subscribe_confirmed(
        alert_mail, "c2@example.jp", categories=["disaster", "weather"], language="en"
    )
    await subscribe_confirmed(alert_mail, "c3@example.jp")
    stopped = await subscription(alert_mail, "c3@example.jp")
    assert stopped is not None
    async with alert_mail.runtime.db.session() as session:
        stopped.status = "unsubscribed"
        session.add(stopped)

    publisher = alert_mail.tokens.staff("stf_pub", "alert_publisher", department="bosai")
    response = await alert_mail.client.get("/v1/subscriptions", headers=publisher)
    assert response.status_code == 200
    counts = response.json()
    assert counts == {
        "total": 3,
        "by_status": {"pending": 0, "active": 2, "suspended": 0, "unsubscribed": 1},
        "by_category": {"disaster": 2, "weather": 1},
        "by_district": {"chuo": 1},
        "city_wide": 1,
        "by_language": {"ja": 1, "en": 1},
    }
    assert "@" not in response.text

    plain_staff = alert_mail.tokens.staff("stf_x", "staff")
    assert (
        await alert_mail.client.get("/v1/subscriptions", headers=plain_staff)
    ).status_code == 403
    citizen = alert_mail.tokens.citizen("cit_x")
    assert (await alert_mail.client.get("/v1/subscriptions", headers=citizen)).status_code == 403
    approver = alert_mail.tokens.staff("stf_ap", "approver", department="bosai")
    assert (await alert_mail.client.get("/v1/subscriptions", headers=approver)).status_code == 200
