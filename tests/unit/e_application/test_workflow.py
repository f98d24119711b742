"""The staff case workflow: queue, assignment, review, return and resubmission with the clock
paused, four-eyes approval, fees, completion, issued documents, and the history."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from services.e_application import workflow_service
from services.e_application.application_views import today_jst
from services.e_application.domain.business_days import add_business_days
from services.e_application.models import Application
from services.kit.assurance import Acr
from tests.unit.e_application.support import INQUIRY_FORM, LECTURE_FORM, PDF, Api

WATER = {
    "name": "水道 一郎",
    "address": "デモ市中央1-1",
    "phone": "043-000-0000",
    "supply_address": "デモ市中央1-1",
    "start_date": "2027-04-01",
    "payment": "invoice",
    "payer_is_applicant": True,
}
DISCLOSURE = {
    "name": "情報 公子",
    "address": "デモ市中央2-2",
    "phone": "043-000-0001",
    "email": "kouko@example.jp",
    "documents": "令和8年度のデモ市DX推進計画の検討資料",
    "method": "online",
}


async def _queue(api: Api, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = await api.client.get("/v1/applications/queue", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_the_queue_is_scoped_to_the_department_and_filtered(api: Api) -> None:
    citizen = api.citizen()
    water = await api.submitted("water-start", WATER, citizen)
    await api.draft("water-stop", {}, citizen)  # drafts never reach the queue
    lecture = await api.submitted("lecture-application", LECTURE_FORM, citizen)
    suido = api.staff("stf_suido", department="suido")
    assert [a["id"] for a in await _queue(api, suido)] == [water["id"]]
    gakushu = api.staff("stf_g", department="shogai-gakushu")
    assert [a["id"] for a in await _queue(api, gakushu)] == [lecture["id"]]
    assert await _queue(api, suido, status="in_review") == []
    assert await _queue(api, suido, procedure="water-stop") == []
    assert await _queue(api, suido, assigned="me") == []
    assert [a["id"] for a in await _queue(api, suido, assigned="nobody")] == [water["id"]]
    started = await api.act(water["id"], "start-review", suido)
    assert started.json()["assigned_to"] == "stf_suido"
    assert [a["id"] for a in await _queue(api, suido, assigned="me")] == [water["id"]]
    # Another department's staff: no queue entry, no read, no transition.
    other = api.staff("stf_zeimu", department="zeimu")
    assert await _queue(api, other) == []
    assert (
        await api.client.get(f"/v1/applications/{water['id']}", headers=other)
    ).status_code == 404
    assert (await api.act(water["id"], "approve", other)).status_code == 404
    citizen_queue = await api.client.get("/v1/applications/queue", headers=citizen)
    assert citizen_queue.status_code == 403


async def test_overdue_against_the_standard_processing_days(api: Api) -> None:
    filed = await api.submitted("water-start", WATER, api.citizen())
    suido = api.staff("stf_suido", department="suido")
    assert await _queue(api, suido, overdue=True) == []
    assert len(await _queue(api, suido, overdue=False)) == 1
    async with api.runtime.db.session() as session:
        row = await session.get(Application, filed["id"])
        assert row is not None
        assert row.due_on == add_business_days(today_jst(row.created_at), 3)
        row.due_on = date(2000, 1, 4)
    overdue = await _queue(api, suido, overdue=True)
    assert [a["id"] for a in overdue] == [filed["id"]]
    assert overdue[0]["overdue"] is True


async def test_return_pauses_the_clock_and_the_resubmission_shows_what_changed(api: Api) -> None:
    citizen = api.citizen()
    filed = await api.submitted("water-start", WATER, citizen)
    suido = api.staff("stf_suido", department="suido")
    await api.act(filed["id"], "start-review", suido)
    deadline = (date.today() + timedelta(days=14)).isoformat()
    returned = await api.act(
        filed["id"],
        "return",
        suido,
        fields=["/supply_address", "/start_date"],
        message="使用場所の部屋番号と開始日をご確認ください。",
        deadline=deadline,
        internal_comment="台帳の住所と不一致",
    )
    assert returned.status_code == 200, returned.text
    assert returned.json()["status"] == "returned"
    mine = (await api.client.get(f"/v1/applications/{filed['id']}", headers=citizen)).json()
    assert mine["correction"] == {
        "fields": ["/supply_address", "/start_date"],
        "message": "使用場所の部屋番号と開始日をご確認ください。",
        "deadline": deadline,
    }
    assert mine["allowed_actions"] == ["update", "attach", "resubmit", "withdraw"]
    corrected = {**WATER, "supply_address": "デモ市中央1-1-101"}
    await api.client.patch(
        f"/v1/applications/{filed['id']}", json={"form": corrected}, headers=citizen
    )
    again = await api.act(filed["id"], "resubmit", citizen)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "in_review"
    assert again.json()["correction"] is None
    case = (await api.client.get(f"/v1/applications/{filed['id']}", headers=suido)).json()
    assert case["changed_since_return"] == ["/supply_address"]
    # The history: the applicant sees the message, never the internal comment.
    history = await api.client.get(f"/v1/applications/{filed['id']}/history", headers=citizen)
    events = history.json()["items"]
    assert [e["transition"] for e in events] == [
        "create",
        "submit",
        "start_review",
        "return",
        "resubmit",
    ]
    assert "台帳" not in history.text
    assert "internal_comment" not in events[3]
    staff_history = await api.client.get(f"/v1/applications/{filed['id']}/history", headers=suido)
    assert staff_history.json()["items"][3]["internal_comment"] == "台帳の住所と不一致"
    assert staff_history.json()["items"][3]["actor"] == "stf_suido"


async def test_an_unanswered_return_expires_after_its_deadline(api: Api) -> None:
    citizen = api.citizen()
    filed = await api.submitted("lecture-application", LECTURE_FORM, citizen)
    staff = api.staff("stf_g", department="shogai-gakushu")
    await api.act(filed["id"], "start-review", staff)
    deadline = date.today() + timedelta(days=2)
    await api.act(
        filed["id"], "return", staff, fields=["/name"], message="氏名", deadline=str(deadline)
    )
    seats = (await api.client.get("/v1/procedures/lecture-application")).json()["seats_left"]
    now = api.runtime.clock.now()
    async with api.runtime.db.session() as session:
        assert await workflow_service.expire_returns(session, today=deadline, now=now) == 0
    async with api.runtime.db.session() as session:
        later = deadline + timedelta(days=1)
        assert await workflow_service.expire_returns(session, today=later, now=now) == 1
    mine = (await api.client.get(f"/v1/applications/{filed['id']}", headers=citizen)).json()
    assert mine["status"] == "expired"
    after = (await api.client.get("/v1/procedures/lecture-application")).json()["seats_left"]
    assert after == seats + 1


async def test_four_eyes_needs_a_second_approver(api: Api) -> None:
    citizen = api.citizen(acr="password")
    filed = await api.submitted("info-disclosure", DISCLOSURE, citizen)
    reviewer = api.staff("stf_somu1", "approver", department="somu")
    second = api.staff("stf_somu2", "approver", department="somu")
    plain = api.staff("stf_somu3", department="somu")
    await api.act(filed["id"], "start-review", reviewer)
    early = await api.act(filed["id"], "approve", reviewer)
    assert early.status_code == 409
    assert early.json()["current_state"] == "in_review"
    asked = await api.act(filed["id"], "request-approval", reviewer, comment="開示相当")
    assert asked.json()["status"] == "awaiting_approval"
    same = await api.act(filed["id"], "approve", reviewer)
    assert same.status_code == 403
    assert (await api.act(filed["id"], "approve", plain)).status_code == 403
    approved = await api.act(filed["id"], "approve", second, comment="開示を決定しました。")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    # Released documents: attached by staff, readable by the applicant once completed.
    upload = await api.client.post(
        f"/v1/applications/{filed['id']}/documents",
        files={"file": ("kaiji.pdf", PDF, "application/pdf")},
        data={"title": "開示文書"},
        headers=reviewer,
    )
    assert upload.status_code == 201, upload.text
    document_url = f"/v1/applications/{filed['id']}/attachments/{upload.json()['id']}"
    assert (await api.client.get(document_url, headers=citizen)).status_code == 404
    mine = (await api.client.get(f"/v1/applications/{filed['id']}", headers=citizen)).json()
    assert mine["documents"] == []
    done = await api.act(filed["id"], "complete", reviewer)
    assert done.json()["status"] == "completed"
    mine = (await api.client.get(f"/v1/applications/{filed['id']}", headers=citizen)).json()
    assert [d["title"] for d in mine["documents"]] == ["開示文書"]
    read = await api.client.get(document_url, headers=citizen)
    assert read.status_code == 200
    assert read.content == PDF
    assert (await api.act(filed["id"], "reject", second)).json()["current_state"] == "completed"


async def test_deciding_needs_a_login_with_the_second_factor(api: Api) -> None:
    filed = await api.submitted("info-disclosure", DISCLOSURE, api.citizen(acr="password"))
    reviewer = api.tokens.staff("stf_somu1", "approver", department="somu", acr=Acr.PASSWORD)
    # a password-only token does the casework that is no decision
    assert (await api.act(filed["id"], "start-review", reviewer)).status_code == 200
    asked = await api.act(filed["id"], "request-approval", reviewer, comment="開示相当")
    assert asked.json()["status"] == "awaiting_approval"
    second = api.tokens.staff("stf_somu2", "approver", department="somu", acr=Acr.PASSWORD)
    for action in ("approve", "reject"):
        refused = await api.act(filed["id"], action, second, comment="決裁")
        assert refused.status_code == 403, action
        assert refused.json()["type"] == "/problems/second-factor-required"
    still = await api.client.get(f"/v1/applications/{filed['id']}", headers=reviewer)
    assert still.json()["status"] == "awaiting_approval"
    with_code = api.staff("stf_somu2", "approver", department="somu")
    approved = await api.act(filed["id"], "approve", with_code, comment="開示を決定しました。")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"


async def test_an_approved_fee_waits_for_payment(api: Api) -> None:
    citizen = api.citizen()
    form = {
        "name": "粗大 ごみ子",
        "address": "デモ市中央3-3",
        "phone": "043-000-0002",
        "collection_address": "デモ市中央3-3",
        "items": [{"kind": "sofa", "quantity": 1}, {"kind": "bicycle", "quantity": 2}],
        "preferred_date": "2027-05-10",
    }
    filed = await api.submitted("bulky-waste", form, citizen)
    assert filed["payment"]["amount_yen"] == 1200 + 2 * 400
    staff = api.staff("stf_clean", department="clean")
    await api.act(filed["id"], "start-review", staff)
    approved = await api.act(filed["id"], "approve", staff)
    assert approved.json()["status"] == "awaiting_payment"
    assert approved.json()["payment"]["status"] == "due"
    mine = (await api.client.get(f"/v1/applications/{filed['id']}", headers=citizen)).json()
    assert "pay" in mine["allowed_actions"]
    complete = await api.act(filed["id"], "complete", staff)
    assert complete.status_code == 409
    assert complete.json()["current_state"] == "awaiting_payment"


async def test_counter_filing_is_recorded_as_such(api: Api) -> None:
    staff = api.staff("stf_s", department="seisaku")
    response = await api.client.post(
        "/v1/applications/counter",
        json={
            "procedure_code": "policy-proposal",
            "form": {
                "title": "公園のベンチ",
                "proposal": "ベンチを増やしてください。",
                "area": "other",
            },
            "identity_document": "driver_license",
            "applicant_sub": "cit_counter",
        },
        headers=staff,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["channel"] == "counter"
    assert body["access_code"] is not None
    assert body["status"] == "submitted"
    case = (await api.client.get(f"/v1/applications/{body['id']}", headers=staff)).json()
    assert case["filed_by"] == "stf_s"
    resident = api.citizen("cit_counter")
    mine = await api.client.get("/v1/applications/mine", headers=resident)
    assert [a["id"] for a in mine.json()["items"]] == [body["id"]]
    elsewhere = await api.client.post(
        "/v1/applications/counter",
        json={
            "procedure_code": "water-start",
            "form": WATER,
            "identity_document": "passport",
        },
        headers=staff,
    )
    assert elsewhere.status_code == 404


async def test_staff_reads_are_audited_and_illegal_moves_name_the_state(api: Api) -> None:
    filed = await api.submitted("inquiry", INQUIRY_FORM, api.citizen())
    staff = api.staff("stf_s", department="seisaku")
    await api.client.get(f"/v1/applications/{filed['id']}", headers=staff)
    actions = await api.audit_actions()
    assert ("application.viewed", f"application:{filed['id']}") in actions
    assert ("application.submitted", f"application:{filed['id']}") in actions
    resubmit = await api.act(filed["id"], "complete", staff)
    assert resubmit.status_code == 409
    assert resubmit.json()["type"] == "/problems/illegal-transition"
    assert resubmit.json()["current_state"] == "submitted"


async def test_the_expiry_job_runs_on_a_simulation_tick(api: Api) -> None:
    citizen = api.citizen()
    filed = await api.submitted("water-start", WATER, citizen)
    staff = api.staff("stf_suido", department="suido")
    await api.act(filed["id"], "start-review", staff)
    deadline = date.today() + timedelta(days=3)
    await api.act(
        filed["id"], "return", staff, fields=["/phone"], message="電話番号", deadline=str(deadline)
    )
    admin = api.tokens.admin()
    gateway = api.tokens.service("svc-gateway", "sim")  # as the gateway's /sim/clock does
    moved = await api.client.post(
        "/sim/clock", json={"advance_seconds": 6 * 86400}, headers=gateway
    )
    assert moved.status_code == 200, moved.text
    ticked = await api.client.post("/sim/tick", headers=admin)
    assert ticked.status_code == 200, ticked.text
    assert "e_application.returns.expire" in ticked.text
    mine = (await api.client.get(f"/v1/applications/{filed['id']}", headers=citizen)).json()
    assert mine["status"] == "expired"
    history = await api.client.get(f"/v1/applications/{filed['id']}/history", headers=citizen)
    assert history.json()["items"][-1]["transition"] == "expire"
    assert history.json()["items"][-1]["actor_kind"] == "system"
