"""The authorization matrix: every route on one resident's application, called by another
resident, by staff of another department, by a service client and without a token. None of
them sees or changes it, and no answer carries its personal data."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from services.kit.notify import NOTIFY_TOPIC
from services.kit.tables import OutboxMessage
from tests.unit.e_application.support import PDF, Api

SECRET_NAME = "秘密 花子"
WATER = {
    "name": SECRET_NAME,
    "address": "デモ市中央9-9",
    "phone": "043-999-9999",
    "supply_address": "デモ市中央9-9",
    "start_date": "2027-04-01",
    "payment": "invoice",
    "payer_is_applicant": True,
}


def _routes(app_id: str, att_id: str) -> list[tuple[str, str, Any]]:
    base = f"/v1/applications/{app_id}"
    return [
        ("GET", base, None),
        ("PATCH", base, {"form": {}}),
        ("GET", f"{base}/history", None),
        ("GET", f"{base}/signing-payload", None),
        ("POST", f"{base}/prefill", {"certificate": "x"}),
        ("POST", f"{base}/submit", {}),
        ("POST", f"{base}/resubmit", {}),
        ("POST", f"{base}/withdraw", {}),
        ("POST", f"{base}/payments", {"method": "konbini"}),
        ("GET", f"{base}/attachments/{att_id}", None),
        ("DELETE", f"{base}/attachments/{att_id}", None),
        ("POST", f"{base}/assign", {}),
        ("POST", f"{base}/start-review", {}),
        ("POST", f"{base}/return", {"fields": ["/name"], "message": "m", "deadline": "2099-01-01"}),
        ("POST", f"{base}/request-approval", {}),
        ("POST", f"{base}/send-back", {}),
        ("POST", f"{base}/approve", {}),
        ("POST", f"{base}/reject", {}),
        ("POST", f"{base}/complete", {}),
        ("POST", f"{base}/documents/render", {}),
        ("POST", f"{base}/signature/verify", None),
    ]


async def test_nobody_else_reads_or_changes_an_application(api: Api) -> None:
    owner = api.citizen("cit_owner")
    filed = await api.submitted("water-start", WATER, owner)
    draft = await api.draft("recycle-listing", {"name": SECRET_NAME}, owner)
    photo = await api.attach(draft["id"], owner, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert photo.status_code == 201
    callers = {
        "another resident": (api.citizen("cit_other", acr="jpki"), {403, 404}),
        "staff of another department": (
            api.staff("stf_zeimu", "approver", department="zeimu"),
            {403, 404},
        ),
        "a service client": (api.tokens.service("svc-x", "payments:read"), {403, 404}),
        "nobody": ({}, {401}),
    }
    for app_id, att_id in (
        (filed["id"], "att_00000000000000000000000000"),
        (draft["id"], photo.json()["id"]),
    ):
        for who, (headers, allowed) in callers.items():
            for method, path, body in _routes(app_id, att_id):
                response = await api.client.request(method, path, json=body, headers=headers)
                assert response.status_code in allowed, (who, method, path, response.text)
                assert SECRET_NAME not in response.text, (who, method, path)
                assert "デモ市中央9-9" not in response.text
    # Lists: the other resident's list and the other department's queue stay empty.
    assert (await api.client.get("/v1/applications/mine", headers=api.citizen("cit_other"))).json()[
        "items"
    ] == []
    other_queue = await api.client.get(
        "/v1/applications/queue", headers=api.staff("stf_zeimu", department="zeimu")
    )
    assert other_queue.json()["items"] == []
    # And the owner's data is untouched by all of the above.
    mine = await api.client.get(f"/v1/applications/{filed['id']}", headers=owner)
    assert mine.json()["status"] == "submitted"
    assert mine.json()["form"]["name"] == SECRET_NAME


async def test_department_staff_read_attachments_but_not_drafts(api: Api) -> None:
    owner = api.citizen("cit_owner", acr="password")
    form = {
        "name": SECRET_NAME,
        "address": "デモ市",
        "registration_number": "D-1",
        "vaccinated_on": "2027-04-01",
        "clinic": "デモ動物病院",
    }
    draft = await api.draft("dog-rabies-vaccination", form, owner)
    added = (await api.attach(draft["id"], owner, PDF)).json()
    url = f"/v1/applications/{draft['id']}/attachments/{added['id']}"
    staff = api.staff("stf_anzen", department="seikatsu-anzen")
    assert (await api.client.get(url, headers=staff)).status_code == 404  # still a draft
    assert (await api.act(draft["id"], "submit", owner)).status_code == 200
    read = await api.client.get(url, headers=staff)
    assert read.status_code == 200
    assert read.content == PDF
    assert ("application.viewed", f"application:{draft['id']}") in await api.audit_actions()


async def test_english_applicants_get_english_notices(api: Api) -> None:
    await api.submitted(
        "lecture-application",
        {
            "name": "Jane Doe",
            "email": "jane@example.jp",
            "participants": 1,
            "childcare_needed": False,
        },
        api.citizen("cit_en"),
        locale="en",
        contact_email="jane@example.jp",
    )
    await api.submitted(
        "lecture-application",
        {
            "name": "講座 花子",
            "email": "hana@example.jp",
            "participants": 1,
            "childcare_needed": False,
        },
        api.citizen("cit_ja"),
        contact_email="hana@example.jp",
    )
    async with api.runtime.db.session(write=False) as session:
        rows = await session.exec(
            select(OutboxMessage).where(col(OutboxMessage.topic) == NOTIFY_TOPIC)
        )
        sent = {r.payload["email_address"]: r.payload for r in rows.all()}
    assert sent["jane@example.jp"]["template_id"] == "tpl_e_application_received_en"
    assert (
        sent["jane@example.jp"]["personalisation"]["procedure_name"]
        == "Lecture and event registration"
    )
    assert sent["hana@example.jp"]["template_id"] == "tpl_e_application_received"
    assert (
        sent["hana@example.jp"]["personalisation"]["procedure_name"] == "各種講座・イベント参加申込"
    )
