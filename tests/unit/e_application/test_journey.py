"""The whole journey through the gateway, every piece real: a resident registers, verifies
and logs in, signs up for a かんたん procedure; logs in with the mock My Number card and
files a signed 住民票 request; staff review, return it, the resident corrects and signs
again, two staff approve it; the resident gets a konbini slip, pays it at the simulated
store, the signed webhook completes the application; every notice is read from the SMTP
sink. Then: an expired slip and a new one, and a lost webhook recovered by the reconciler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.kit.payments import payments_runtime
from tests.support.databases import backends
from tests.unit.e_application.suite import Suite, whole_suite
from tests.unit.e_application.support import LECTURE_FORM, RESIDENCE_FORM


@pytest.fixture(params=backends())
async def suite(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Suite]:
    async with whole_suite(request.param, tmp_path) as running:
        yield running


def _subjects(mails: list[Any]) -> list[str]:
    return [str(m.subject) for m in mails]


async def _signed_request(suite: Suite, email: str) -> tuple[dict[str, str], str, Any]:
    card, signing = suite.issue_card("電子 花子")
    resident = await suite.card_login(card)
    draft = await suite.http.post(
        "/v1/applications",
        json={
            "procedure_code": "residence-certificate",
            "form": {"copies": 2, "purpose": "procedure", "delivery": "mail"},
            "contact_email": email,
        },
        headers=resident,
    )
    assert draft.status_code == 201, draft.text
    application_id = draft.json()["id"]
    prefilled = await suite.http.post(
        f"/v1/applications/{application_id}/prefill",
        json={"certificate": signing.certificate_pem, "signature": "unused-for-prefill"},
        headers=resident,
    )
    assert prefilled.status_code == 200, prefilled.text
    form = {**prefilled.json()["form"], "include_household": False, "include_domicile": False}
    assert form["name"] == "電子 花子"
    await suite.http.patch(
        f"/v1/applications/{application_id}", json={"form": form}, headers=resident
    )
    await _sign_and_send(suite, application_id, signing, resident, "submit")
    return resident, application_id, signing


async def _sign_and_send(
    suite: Suite, application_id: str, signing: Any, resident: dict[str, str], action: str
) -> dict[str, Any]:
    payload = await suite.http.get(
        f"/v1/applications/{application_id}/signing-payload", headers=resident
    )
    response = await suite.http.post(
        f"/v1/applications/{application_id}/{action}",
        json=signing.submission(payload.json()["payload"]),
        headers=resident,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _approve(suite: Suite, application_id: str) -> dict[str, Any]:
    reviewer = suite.staff("stf_shimin_review", "approver")
    approver = suite.staff("stf_shimin_chief", "approver")
    url = f"/v1/applications/{application_id}"
    await suite.http.post(f"{url}/request-approval", json={}, headers=reviewer)
    approved = await suite.http.post(
        f"{url}/approve", json={"comment": "交付します。"}, headers=approver
    )
    assert approved.status_code == 200, approved.text
    body: dict[str, Any] = approved.json()
    return body


async def _konbini_slip(suite: Suite, application_id: str, resident: dict[str, str]) -> Any:
    paying = await suite.http.post(
        f"/v1/applications/{application_id}/payments",
        json={"method": "konbini"},
        headers=resident,
    )
    assert paying.status_code == 201, paying.text
    return paying.json()


async def _pay_at_store(suite: Suite, instructions: dict[str, Any]) -> None:
    store = next(s for s in instructions["konbini"]["stores"] if s["chain"] == "lawson")
    paid = await suite.http.post(
        "/v1/simulate/konbini/payments",
        json={
            "chain": "lawson",
            "payment_code": store["payment_code"],
            "confirmation_number": store["confirmation_number"],
        },
        headers=await suite.service_headers(),
    )
    assert paid.status_code == 200, paid.text


async def test_the_whole_journey_through_the_gateway(suite: Suite) -> None:
    # かんたん申請: register, verify the address, log in, sign up for a lecture.
    email = "hanako@example.jp"
    citizen = await suite.register_and_log_in(email)
    signed_up = await suite.http.post(
        "/v1/applications",
        json={
            "procedure_code": "lecture-application",
            "form": LECTURE_FORM,
            "contact_email": email,
            "submit": True,
        },
        headers=citizen,
    )
    assert signed_up.status_code == 201, signed_up.text
    reference = signed_up.json()["reference"]
    status = await suite.http.get(
        "/v1/applications/status",
        params={"reference": reference, "access_code": signed_up.json()["access_code"]},
    )
    assert status.json()["status"] == "submitted"
    received = await suite.mails(email, 2)  # the address check, then the receipt
    assert "【デモ市】各種講座・イベント参加申込の申請を受け付けました" in _subjects(received)
    receipt = next(m for m in received if "受け付けました" in str(m.subject))
    assert reference in str(receipt.text)

    # 電子申請 with the card: signed, returned for correction, signed again.
    resident, application_id, signing = await _signed_request(suite, email)
    reviewer = suite.staff("stf_shimin_review", "approver")
    url = f"/v1/applications/{application_id}"
    await suite.http.post(f"{url}/start-review", json={}, headers=reviewer)
    deadline = (date.today() + timedelta(days=10)).isoformat()
    returned = await suite.http.post(
        f"{url}/return",
        json={"fields": ["/copies"], "message": "通数をご確認ください。", "deadline": deadline},
        headers=reviewer,
    )
    assert returned.status_code == 200, returned.text
    await suite.http.patch(
        url, json={"form": {**RESIDENCE_FORM, "name": "電子 花子", "copies": 1}}, headers=resident
    )
    resubmitted = await _sign_and_send(suite, application_id, signing, resident, "resubmit")
    assert resubmitted["status"] == "in_review"
    case = (await suite.http.get(url, headers=reviewer)).json()
    assert case["changed_since_return"] == ["/copies"]

    # Four eyes, then the fee: a konbini slip, paid at the store, the webhook completes it.
    approved = await _approve(suite, application_id)
    assert approved["status"] == "awaiting_payment"
    assert approved["payment"]["amount_yen"] == 300
    rendered = await suite.http.post(f"{url}/documents/render", json={}, headers=reviewer)
    assert rendered.status_code == 201, rendered.text
    slip = await _konbini_slip(suite, application_id, resident)
    assert slip["payment"]["status"] == "pending"
    instructions = slip["payment"]["instructions"]
    assert len(instructions["konbini"]["barcode"]) == 44
    await _pay_at_store(suite, instructions)
    await suite.send_webhooks()
    done = (await suite.http.get(url, headers=resident)).json()
    assert done["status"] == "completed"
    assert done["payment"]["status"] == "paid"
    assert {d["media_type"] for d in done["documents"]} == {"text/html", "application/pdf"}
    history = (await suite.http.get(f"{url}/history", headers=resident)).json()["items"]
    assert [e["transition"] for e in history][-2:] == ["payment_started", "payment_received"]

    mails = await suite.mails(email, 7)
    subjects = _subjects(mails)
    for expected in (
        "【デモ市】住民票の写し交付請求の申請を受け付けました",
        "【デモ市】住民票の写し交付請求の申請内容の補正をお願いします",
        "【デモ市】住民票の写し交付請求の審査結果のお知らせ",
        "【デモ市】住民票の写し交付請求の手数料のお支払いのお願い",
        "【デモ市】住民票の写し交付請求の手続が完了しました",
    ):
        assert expected in subjects, subjects
    correction = next(m for m in mails if "補正" in str(m.subject))
    assert "通数（/copies）" in str(correction.text)
    assert deadline in str(correction.text)
    completed = next(m for m in mails if "完了" in str(m.subject))
    assert "交付文書は、電子申請のマイページから" in str(completed.text)


async def test_an_expired_slip_gives_a_new_one_and_a_lost_webhook_is_reconciled(
    suite: Suite,
) -> None:
    email = "jiro@example.jp"
    resident, application_id, _signing = await _signed_request(suite, email)
    reviewer = suite.staff("stf_shimin_review", "approver")
    await suite.http.post(
        f"/v1/applications/{application_id}/start-review", json={}, headers=reviewer
    )
    await _approve(suite, application_id)
    first = await _konbini_slip(suite, application_id, resident)
    again = await suite.http.post(
        f"/v1/applications/{application_id}/payments",
        json={"method": "konbini"},
        headers=resident,
    )
    assert again.status_code == 409  # one open slip at a time
    expired = await suite.http.post(
        f"/v1/simulate/payments/{first['payment']['payment_id']}/expire",
        headers=await suite.service_headers(),
    )
    assert expired.status_code == 200, expired.text
    await suite.send_webhooks()
    due = (await suite.http.get(f"/v1/applications/{application_id}", headers=resident)).json()
    assert due["payment"]["status"] == "due"
    assert "pay" in due["allowed_actions"]
    second = await _konbini_slip(suite, application_id, resident)
    assert second["payment"]["payment_id"] != first["payment"]["payment_id"]
    assert [a["attempt"] for a in second["payment"]["attempts"]] == [1, 2]

    # The store payment's webhook is lost (payments_mock's relay never runs for it): the
    # reconciler reads the payment again and completes the application.
    await _pay_at_store(suite, second["payment"]["instructions"])
    report = await payments_runtime(suite.eapp).reconciler.run_once()
    assert report is not None
    done = (await suite.http.get(f"/v1/applications/{application_id}", headers=resident)).json()
    assert done["status"] == "completed"
    assert done["payment"]["payment_id"] == second["payment"]["payment_id"]
    await suite.send_webhooks()  # the late webhooks change nothing more
    history = (
        await suite.http.get(f"/v1/applications/{application_id}/history", headers=resident)
    ).json()["items"]
    assert [e["transition"] for e in history].count("payment_received") == 1
    subjects = _subjects(await suite.mails(email, 5))
    assert subjects.count("【デモ市】住民票の写し交付請求の手数料のお支払いのお願い") == 2
