"""Who may manage groups, send, read and close call-ups, and the audit trail they leave."""

from __future__ import annotations

from sqlmodel import col, select

from services.alert_mail.models import StaffGroup, StaffGroupMember
from services.alert_mail.seed import seed
from tests.unit.alert_mail.callups_support import (
    MEMBERS,
    audit_events,
    make_callup,
    make_group,
    publisher,
)
from tests.unit.alert_mail.conftest import AlertMail, demo_city


async def test_only_admins_manage_groups(alert_mail: AlertMail) -> None:
    body = {"code": "hinanjo", "name_ja": "避難所担当職員", "department": "shogai-gakushu"}
    as_publisher = await alert_mail.client.post(
        "/v1/callups/groups", json=body, headers=publisher(alert_mail)
    )
    as_citizen = await alert_mail.client.post(
        "/v1/callups/groups", json=body, headers=alert_mail.tokens.citizen()
    )
    anonymous = await alert_mail.client.get("/v1/callups/groups")
    group_id = await make_group(alert_mail)
    members_as_staff = await alert_mail.client.get(
        f"/v1/callups/groups/{group_id}/members", headers=publisher(alert_mail)
    )

    assert as_publisher.status_code == 403
    assert as_citizen.status_code == 403
    assert anonymous.status_code == 401
    assert members_as_staff.status_code == 403


async def test_group_crud_with_member_add_remove_and_its_audit(alert_mail: AlertMail) -> None:
    admin = alert_mail.tokens.admin()
    group_id = await make_group(alert_mail, code="clean", department="clean")
    duplicate_code = await alert_mail.client.post(
        "/v1/callups/groups",
        json={"code": "clean", "name_ja": "別の班", "department": "clean"},
        headers=admin,
    )
    duplicate_member = await alert_mail.client.post(
        f"/v1/callups/groups/{group_id}/members",
        json={"name": "同じ人", "email": MEMBERS[0][1].replace("city.test", "CITY.TEST")},
        headers=admin,
    )
    bad_email = await alert_mail.client.post(
        f"/v1/callups/groups/{group_id}/members",
        json={"name": "誰か", "email": "no-at-sign"},
        headers=admin,
    )
    renamed = await alert_mail.client.patch(
        f"/v1/callups/groups/{group_id}", json={"name_ja": "ごみ収集緊急対応班"}, headers=admin
    )
    members = (
        await alert_mail.client.get(f"/v1/callups/groups/{group_id}/members", headers=admin)
    ).json()["items"]
    removed = await alert_mail.client.delete(
        f"/v1/callups/groups/{group_id}/members/{members[0]['id']}", headers=admin
    )
    after = await alert_mail.client.get(f"/v1/callups/groups/{group_id}", headers=admin)
    listed = await alert_mail.client.get(
        "/v1/callups/groups", params={"department": "clean"}, headers=admin
    )

    assert duplicate_code.status_code == 409
    assert duplicate_code.json()["errors"][0]["field"] == "code"
    assert duplicate_member.status_code == 409
    assert duplicate_member.json()["errors"][0]["field"] == "email"
    assert bad_email.status_code == 422
    assert bad_email.json()["errors"][0]["field"] == "email"
    assert renamed.json()["name_ja"] == "ごみ収集緊急対応班"
    assert removed.status_code == 204
    assert after.json()["members"] == len(MEMBERS) - 1
    assert [g["id"] for g in listed.json()["items"]] == [group_id]
    actions = [e["action"] for e in await audit_events(alert_mail) if e["target"] == group_id]
    assert actions == [
        "staff_group.created",
        *["staff_group.member_added"] * len(MEMBERS),
        "staff_group.updated",
        "staff_group.viewed",
        "staff_group.member_removed",
    ]


async def test_a_member_is_read_at_its_location_within_its_group(alert_mail: AlertMail) -> None:
    admin = alert_mail.tokens.admin()
    group_id = await make_group(alert_mail, code="kyusui", department="suido", members=())
    other_group = await make_group(alert_mail, code="doboku", department="doboku", members=())
    url = f"/v1/callups/groups/{group_id}/members"
    body = {"name": "水道 次郎", "email": "jiro@city.test.example.jp", "phone": "0312345678"}
    headers = {**admin, "Idempotency-Key": "member-jiro"}
    added = await alert_mail.client.post(url, json=body, headers=headers)
    assert added.status_code == 201, added.text
    member_id = added.json()["id"]
    assert added.headers["location"] == f"{url}/{member_id}"

    located = await alert_mail.client.get(added.headers["location"], headers=admin)
    assert located.status_code == 200, located.text
    assert located.json() == added.json()
    listed = await alert_mail.client.get(url, headers=admin)
    assert listed.json()["items"] == [located.json()]
    replay = await alert_mail.client.post(url, json=body, headers=headers)
    assert replay.status_code == 200
    assert replay.headers["location"] == added.headers["location"]

    unknown = await alert_mail.client.get(f"{url}/mem_01JD0000000000000000000000", headers=admin)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    elsewhere = await alert_mail.client.get(
        f"/v1/callups/groups/{other_group}/members/{member_id}", headers=admin
    )
    assert elsewhere.status_code == 404  # the member under another group's id
    assert elsewhere.json()["title"] == unknown.json()["title"]
    as_publisher = await alert_mail.client.get(
        added.headers["location"], headers=publisher(alert_mail, department="suido")
    )
    assert as_publisher.status_code == 403  # like the list: group admins only
    viewed = [
        e["changes"]
        for e in await audit_events(alert_mail, "staff_group.viewed")
        if e["target"] == group_id
    ]
    assert {"member_id": member_id} in viewed


async def test_a_group_that_was_called_up_cannot_be_deleted(alert_mail: AlertMail) -> None:
    admin = alert_mail.tokens.admin()
    used = await make_group(alert_mail, code="used")
    unused = await make_group(alert_mail, code="unused")
    await make_callup(alert_mail, used)

    refused = await alert_mail.client.delete(f"/v1/callups/groups/{used}", headers=admin)
    deleted = await alert_mail.client.delete(f"/v1/callups/groups/{unused}", headers=admin)
    gone = await alert_mail.client.get(f"/v1/callups/groups/{unused}", headers=admin)

    assert refused.status_code == 409
    assert deleted.status_code == 204
    assert gone.status_code == 404


async def test_who_may_send_a_callup(alert_mail: AlertMail) -> None:
    group_id = await make_group(alert_mail, department="bosai")
    body = {"group_id": group_id, "title": "参集", "message": "参集してください"}

    async def send(headers: dict[str, str]) -> int:
        return (await alert_mail.client.post("/v1/callups", json=body, headers=headers)).status_code

    tokens = alert_mail.tokens
    assert await send(tokens.staff("stf_plain", "staff", department="bosai")) == 403
    assert await send(tokens.citizen()) == 403
    assert await send(tokens.service("client", "alert_mail")) == 403
    # alert_publisher: only the groups of their own department (others' look like no group)
    assert await send(tokens.staff("stf_other", "alert_publisher", department="suido")) == 422
    assert await send(tokens.staff("stf_same", "alert_publisher", department="bosai")) == 201
    # in a disaster the crisis-management staff call up any group
    assert await send(tokens.staff("stf_emg", "emergency_publisher", department="somu")) == 201
    assert await send(tokens.admin()) == 201


async def test_other_departments_see_no_callup(alert_mail: AlertMail) -> None:
    group_id = await make_group(alert_mail, department="bosai")
    sender = alert_mail.tokens.staff("stf_hq", "emergency_publisher", department="somu")
    callup = await make_callup(alert_mail, group_id, headers=sender)
    colleague = alert_mail.tokens.staff("stf_bosai", department="bosai")
    outsider = alert_mail.tokens.staff("stf_zeimu", department="zeimu")
    outsider_publisher = alert_mail.tokens.staff("stf_x", "alert_publisher", department="zeimu")

    for path in ("", "/summary", "/recipients"):
        url = f"/v1/callups/{callup['id']}{path}"
        assert (await alert_mail.client.get(url, headers=colleague)).status_code == 200
        assert (await alert_mail.client.get(url, headers=sender)).status_code == 200
        assert (
            await alert_mail.client.get(url, headers=alert_mail.tokens.admin())
        ).status_code == 200
        assert (await alert_mail.client.get(url, headers=outsider)).status_code == 404
    close = await alert_mail.client.post(
        f"/v1/callups/{callup['id']}/close", headers=outsider_publisher
    )
    assert close.status_code == 404
    mine = (await alert_mail.client.get("/v1/callups", headers=colleague)).json()["items"]
    theirs = (await alert_mail.client.get("/v1/callups", headers=outsider)).json()["items"]
    assert [c["id"] for c in mine] == [callup["id"]]
    assert theirs == []


async def test_staff_reads_and_actions_on_a_callup_are_audited(alert_mail: AlertMail) -> None:
    group_id = await make_group(alert_mail)
    callup = await make_callup(alert_mail, group_id)
    reader = alert_mail.tokens.staff("stf_reader", department="bosai")
    await alert_mail.client.get(f"/v1/callups/{callup['id']}/summary", headers=reader)
    await alert_mail.client.get(f"/v1/callups/{callup['id']}/recipients", headers=reader)
    await alert_mail.client.post(f"/v1/callups/{callup['id']}/close", headers=publisher(alert_mail))

    events = [e for e in await audit_events(alert_mail) if e["target"] == callup["id"]]

    assert [(e["action"], e["actor"]) for e in events] == [
        ("callup.created", "stf_pub"),
        ("callup.viewed", "stf_reader"),
        ("callup.viewed", "stf_reader"),
        ("callup.closed", "stf_pub"),
    ]
    assert events[0]["changes"]["recipients"] == len(MEMBERS)
    assert [e["changes"]["view"] for e in events[1:3]] == ["summary", "recipients"]
    assert all(e["service"] == "alert_mail" for e in events)


async def test_an_unknown_alert_or_an_empty_group_is_refused_naming_the_field(
    alert_mail: AlertMail,
) -> None:
    empty = await make_group(alert_mail, code="empty", members=())
    full = await make_group(alert_mail, code="full")

    no_members = await alert_mail.client.post(
        "/v1/callups",
        json={"group_id": empty, "title": "参集", "message": "参集してください"},
        headers=publisher(alert_mail),
    )
    no_alert = await alert_mail.client.post(
        "/v1/callups",
        json={
            "group_id": full,
            "title": "参集",
            "message": "参集してください",
            "alert_id": "alt_01JD0000000000000000000000",
        },
        headers=publisher(alert_mail),
    )
    extra_field = await alert_mail.client.post(
        "/v1/callups",
        json={"group_id": full, "title": "参集", "message": "m", "urgent": True},
        headers=publisher(alert_mail),
    )

    assert no_members.status_code == 422
    assert no_members.json()["errors"][0]["field"] == "group_id"
    assert no_alert.status_code == 422
    assert no_alert.json()["errors"][0]["field"] == "alert_id"
    assert extra_field.status_code == 422
    assert extra_field.json()["errors"][0]["field"] == "urgent"


async def test_the_demo_groups_are_seeded_once(alert_mail: AlertMail) -> None:
    async with alert_mail.runtime.db.session() as session:
        await seed(session, demo_city())  # the fixture seeded once already
    async with alert_mail.runtime.db.session(write=False) as session:
        groups = (await session.exec(select(StaffGroup).order_by(col(StaffGroup.code)))).all()
        members = (await session.exec(select(StaffGroupMember))).all()

    names = {g.code: g.name_ja for g in groups}
    assert names["saigai-honbu"] == "災害対策本部員"
    assert names["hinanjo-tanto"] == "避難所担当職員"
    expected = sum(len(g["members"]) for g in demo_city()["staff_groups"])
    assert len(members) == expected
    assert all(m.email.endswith("@city.demo.example.jp") for m in members)
