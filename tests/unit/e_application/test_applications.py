from __future__ import annotations

import re

from tests.unit.e_application.support import INQUIRY_FORM, LECTURE_FORM, PDF, PNG, Api

WATER = {
    "name": "水道 一郎",
    "address": "デモ市中央1-1",
    "phone": "043-000-0000",
    "supply_address": "デモ市中央1-1",
    "start_date": "2027-04-01",
    "payment": "invoice",
}


async def test_a_draft_is_saved_resumed_and_listed_as_mine(api: Api) -> None:
    citizen = api.citizen()
    draft = await api.draft("water-start", {"name": "水道 一郎"}, citizen)
    assert draft["status"] == "draft"
    assert draft["reference"] is None
    assert draft["allowed_actions"] == ["update", "attach", "submit"]
    updated = await api.client.patch(
        f"/v1/applications/{draft['id']}", json={"form": WATER}, headers=citizen
    )
    assert updated.status_code == 200, updated.text
    resumed = await api.client.get(f"/v1/applications/{draft['id']}", headers=citizen)
    assert resumed.json()["form"] == WATER
    mine = await api.client.get("/v1/applications/mine", headers=citizen)
    assert [a["id"] for a in mine.json()["items"]] == [draft["id"]]
    other = await api.client.get("/v1/applications/mine", headers=api.citizen("cit_b"))
    assert other.json()["items"] == []


async def test_a_replayed_create_repeats_the_location_of_the_draft(api: Api) -> None:
    citizen = {**api.citizen("cit_loc"), "Idempotency-Key": "draft-loc-1"}
    body = {"procedure_code": "water-start", "form": {"name": "水道 一郎"}}
    first = await api.client.post("/v1/applications", json=body, headers=citizen)
    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/v1/applications/{first.json()['id']}"
    again = await api.client.post("/v1/applications", json=body, headers=citizen)
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    resumed = await api.client.get(first.headers["location"], headers=api.citizen("cit_loc"))
    assert resumed.json()["id"] == first.json()["id"]


async def test_errors_name_the_json_pointer_including_conditional_fields(api: Api) -> None:
    citizen = api.citizen()
    draft = await api.draft("water-start", {**WATER, "payer_is_applicant": False}, citizen)
    response = await api.act(draft["id"], "submit", citizen)
    assert response.status_code == 422
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert pointers == {"/payer_name"}  # required by if/then because payer_is_applicant=false
    bad = {**WATER, "payer_is_applicant": True, "customer_number": "12", "start_date": "x"}
    await api.client.patch(f"/v1/applications/{draft['id']}", json={"form": bad}, headers=citizen)
    errors = (await api.act(draft["id"], "submit", citizen)).json()["errors"]
    assert {e["pointer"] for e in errors} == {"/customer_number", "/start_date"}
    assert all(e["field"].startswith("form.") for e in errors)
    bulky = await api.draft(
        "bulky-waste", {"name": "x", "items": [{"kind": "piano", "quantity": 1}]}, citizen
    )
    errors = (await api.act(bulky["id"], "submit", citizen)).json()["errors"]
    assert "/items/0/kind" in {e["pointer"] for e in errors}
    assert {"/address", "/phone", "/preferred_date"} <= {e["pointer"] for e in errors}


async def test_the_login_must_meet_the_procedures_assurance(api: Api) -> None:
    weak = api.citizen(acr="email")
    draft = await api.draft("dog-registration", {}, weak)
    response = await api.act(draft["id"], "submit", weak)
    assert response.status_code == 403
    body = response.json()
    assert body["required_acr"] == "password"
    assert body["current_acr"] == "email"
    assert "password" in body["detail"]
    jpki = await api.draft("residence-certificate", {}, weak)
    refused = await api.act(jpki["id"], "submit", weak)
    assert refused.status_code == 403
    assert refused.json()["required_acr"] == "jpki"
    assert "マイナンバーカード" in refused.json()["hint_ja"]


async def test_a_submission_gets_a_reference_and_an_access_code_shown_once(api: Api) -> None:
    citizen = api.citizen()
    first = await api.submitted("lecture-application", LECTURE_FORM, citizen)
    second = await api.submitted("lecture-application", LECTURE_FORM, citizen)
    assert re.fullmatch(r"\d{4}-\d{6}", first["reference"])
    year, number = first["reference"].split("-")
    assert second["reference"] == f"{year}-{int(number) + 1:06d}"
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}", first["access_code"])
    assert first["status"] == "submitted"
    assert first["status_label_ja"] == "受付"
    again = await api.client.get(f"/v1/applications/{first['id']}", headers=citizen)
    assert again.json()["access_code"] is None
    assert again.json()["due_on"] is not None


async def test_an_anonymous_report_and_its_status_lookup(api: Api) -> None:
    response = await api.client.post(
        "/v1/applications",
        json={"procedure_code": "inquiry", "form": INQUIRY_FORM, "submit": True},
    )
    assert response.status_code == 201, response.text
    filed = response.json()
    status = await api.client.get(
        "/v1/applications/status",
        params={"reference": filed["reference"], "access_code": filed["access_code"]},
    )
    assert status.status_code == 200
    assert status.json() == {
        "reference": filed["reference"],
        "status": "submitted",
        "status_label_ja": "受付",
        "updated_at": status.json()["updated_at"],
    }
    # Without an account, a draft is not possible, nor a procedure that needs a login.
    assert (
        await api.client.post("/v1/applications", json={"procedure_code": "inquiry"})
    ).status_code == 401
    needs_login = await api.client.post(
        "/v1/applications",
        json={"procedure_code": "lecture-application", "form": LECTURE_FORM, "submit": True},
    )
    assert needs_login.status_code == 401


async def test_wrong_access_codes_look_unknown_and_lock_the_reference(api: Api) -> None:
    filed = await api.submitted("lecture-application", LECTURE_FORM, api.citizen())
    lookups = [
        await api.client.get(
            "/v1/applications/status",
            params={"reference": filed["reference"], "access_code": "AAAA-AAAA-AAAA"},
        )
        for _ in range(5)
    ]
    unknown = await api.client.get(
        "/v1/applications/status",
        params={"reference": "1999-000001", "access_code": "AAAA-AAAA-AAAA"},
    )
    assert {r.status_code for r in lookups} == {404}
    assert lookups[0].json()["detail"] == unknown.json()["detail"]
    locked = await api.client.get(
        "/v1/applications/status",
        params={"reference": filed["reference"], "access_code": filed["access_code"]},
    )
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0


async def test_withdrawal_before_a_decision_gives_the_seat_back(api: Api) -> None:
    citizen = api.citizen()
    filed = await api.submitted("lecture-application", LECTURE_FORM, citizen)
    seats = (await api.client.get("/v1/procedures/lecture-application")).json()["seats_left"]
    withdrawn = await api.act(filed["id"], "withdraw", citizen, reason="都合が悪くなりました")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"
    after = (await api.client.get("/v1/procedures/lecture-application")).json()["seats_left"]
    assert after == seats + 1
    again = await api.act(filed["id"], "withdraw", citizen)
    assert again.status_code == 409
    assert again.json()["current_state"] == "withdrawn"


async def test_one_applicant_never_sees_or_changes_anothers(api: Api) -> None:
    a, b = api.citizen("cit_a"), api.citizen("cit_b")
    draft = await api.draft("water-start", WATER, a)
    for method, path, body in (
        ("GET", "", None),
        ("PATCH", "", {"form": {}}),
        ("POST", "/submit", {}),
        ("POST", "/withdraw", {}),
        ("GET", "/history", None),
        ("GET", "/signing-payload", None),
    ):
        response = await api.client.request(
            method, f"/v1/applications/{draft['id']}{path}", json=body, headers=b
        )
        assert response.status_code == 404, (method, path, response.text)
        assert "水道" not in response.text  # no personal data, only the id the caller sent
    assert (await api.attach(draft["id"], b)).status_code == 404
    assert (await api.client.get(f"/v1/applications/{draft['id']}")).status_code == 401


async def test_attachments_are_sniffed_capped_and_private(api: Api) -> None:
    citizen = api.citizen()
    draft = await api.draft("recycle-listing", {}, citizen)
    added = await api.attach(draft["id"], citizen, PNG, filename="../../sofa.pdf")
    assert added.status_code == 201, added.text
    body = added.json()
    assert body["media_type"] == "image/png"
    assert body["filename"] == "sofa.png"
    pdf = await api.attach(draft["id"], citizen, PDF)  # the procedure takes photos only
    assert pdf.status_code == 422
    assert pdf.json()["errors"][0]["field"] == "file"
    text = await api.attach(draft["id"], citizen, b"<html>hello</html>")
    assert text.status_code == 422
    huge = await api.attach(draft["id"], citizen, PNG + b"\x00" * (2 * 1024 * 1024))
    assert huge.status_code == 413
    url = f"/v1/applications/{draft['id']}/attachments/{body['id']}"
    assert added.headers["location"] == url
    read = await api.client.get(url, headers=citizen)
    assert read.status_code == 200
    assert read.content == PNG
    assert read.headers["content-type"] == "image/png"
    assert (await api.client.get(url, headers=api.citizen("cit_b"))).status_code == 404
    removed = await api.client.delete(url, headers=citizen)
    assert removed.status_code == 204
    assert (await api.client.get(url, headers=citizen)).status_code == 404


async def test_a_required_attachment_and_a_representatives_power_of_attorney(
    api: Api,
) -> None:
    citizen = api.citizen(acr="password")
    form = {
        "name": "犬 好子",
        "address": "デモ市",
        "registration_number": "D-1",
        "vaccinated_on": "2027-04-01",
        "clinic": "デモ動物病院",
    }
    draft = await api.draft(
        "dog-rabies-vaccination",
        form,
        citizen,
        representative={
            "name": "代理 人",
            "relationship": "家族",
            "represented_name": "犬 好子",
            "represented_address": "デモ市",
        },
    )
    assert draft["channel"] == "representative"
    missing = await api.act(draft["id"], "submit", citizen)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "attachments"
    assert (await api.attach(draft["id"], citizen, PDF)).status_code == 201
    still = await api.act(draft["id"], "submit", citizen)
    assert still.status_code == 422
    assert "委任状" in still.json()["detail"]
    assert (
        await api.attach(draft["id"], citizen, PDF, kind="power_of_attorney")
    ).status_code == 201
    done = await api.act(draft["id"], "submit", citizen)
    assert done.status_code == 200, done.text
    assert done.json()["payment"] == {
        "status": "not_required",
        "amount_yen": 550,
        "method": None,
        "payment_id": None,
        "instructions": None,
        "attempts": [],
    }


async def test_a_sign_up_past_its_deadline_is_closed(api: Api) -> None:
    current = (await api.client.get("/v1/procedures/lecture-application")).json()
    keep = ("name_ja", "name_en", "department", "category_ja", "assurance", "form_schema")
    edit = {k: current[k] for k in keep} | {"deadline": "2020-03-31T17:00:00+09:00"}
    published = await api.client.post(
        "/v1/procedures/lecture-application/versions",
        json=edit,
        headers=api.staff("stf_g", "approver", department="shogai-gakushu"),
    )
    assert published.status_code == 201, published.text
    response = await api.client.post(
        "/v1/applications",
        json={"procedure_code": "lecture-application", "form": LECTURE_FORM, "submit": True},
        headers=api.citizen(),
    )
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/sign-up-closed"
