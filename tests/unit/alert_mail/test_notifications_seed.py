"""The templates other services rely on are seeded under stable ids, render as Japanese mail,
and re-seeding neither duplicates them nor undoes a staff edit."""

from __future__ import annotations

from typing import Any

from services.alert_mail.domain import templates
from services.alert_mail.domain.templates_seed import seed_templates
from tests.unit.alert_mail.conftest import AlertMail, seed_demo_city

STABLE_IDS = {
    "tpl_e_application_received",
    "tpl_e_application_decided",
    "tpl_e_application_returned",
    "tpl_e_application_payment_due",
    "tpl_e_application_completed",
    "tpl_e_application_received_en",
    "tpl_e_application_returned_en",
    "tpl_e_application_decided_en",
    "tpl_e_application_payment_due_en",
    "tpl_e_application_completed_en",
    "tpl_facility_booking_confirmed",
    "tpl_facility_booking_lottery_result",
    "tpl_facility_booking_reminder",
    "tpl_facility_booking_cancelled",
    "tpl_facility_booking_waitlist_offer",
    "tpl_payments_due",
    "tpl_payments_received",
    "tpl_gateway_email_verification",
}


def test_every_seed_template_is_well_formed_and_names_the_city() -> None:
    seeded = seed_templates("デモ市", "Demo City")
    assert {t.id for t in seeded} == STABLE_IDS
    for template in seeded:
        templates.check_template(template.subject, template.body)
        if template.language == "en":
            assert template.id.endswith("_en")
            assert template.subject.startswith("[Demo City]")
            assert "Demo City City Hall" in template.body
        else:
            assert template.language == "ja"
            assert template.subject.startswith("【デモ市】")
            assert "デモ市役所" in template.body
        assert "{" not in template.subject + template.body  # every {city} was filled


async def test_seeded_templates_are_listed_and_render(alert_mail: AlertMail) -> None:
    headers = alert_mail.tokens.service("svc_e_application", "notifications:send")
    listed = await alert_mail.client.get(
        "/v1/notifications/templates", params={"limit": 100}, headers=headers
    )
    assert {t["id"] for t in listed.json()["items"]} >= STABLE_IDS

    values: dict[str, Any] = {
        "name": "鈴木 花子",
        "item": "軽自動車税（種別割）",
        "amount": "10,800",
        "due_date": "2026年5月31日",
        "payment_method": "コンビニエンスストア",
        "payment_details": ["払込票番号: 1234-5678", "お支払い期限: 2026年5月31日"],
        "konbini": "yes",
    }
    preview = await alert_mail.client.post(
        "/v1/notifications/templates/tpl_payments_due/preview",
        json={"personalisation": values},
        headers=headers,
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()["body"]
    assert preview.json()["subject"] == "【デモ市】軽自動車税（種別割）の納付期限が近づいています"
    assert "金額: 10,800円" in body
    assert "・払込票番号: 1234-5678" in body
    assert "コンビニエンスストアのレジ" in body
    assert "ペイジー" not in body  # the Pay-easy paragraph was left out, line and all


async def test_reseeding_is_idempotent_and_keeps_staff_edits(alert_mail: AlertMail) -> None:
    admin = alert_mail.tokens.admin()
    url = "/v1/notifications/templates/tpl_gateway_email_verification"
    edited = await alert_mail.client.patch(
        url, json={"subject": "【デモ市】メールアドレスをご確認ください"}, headers=admin
    )
    assert edited.json()["version"] == 2
    await seed_demo_city(alert_mail.app)
    again = (await alert_mail.client.get(url, headers=admin)).json()
    assert again["version"] == 2
    assert again["subject"] == "【デモ市】メールアドレスをご確認ください"
    untouched = await alert_mail.client.get(
        "/v1/notifications/templates/tpl_payments_due", headers=admin
    )
    assert untouched.json()["version"] == 1
