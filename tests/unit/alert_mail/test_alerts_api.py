"""Alerts through the API: the four-eyes flow, emergency publication, roles and departments,
expiry, duplicates, updates and cancellations, history and audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.alerts_support import (
    Staff,
    alert_body,
    audit_actions,
    compose,
    send_four_eyes,
)
from tests.unit.alert_mail.conftest import AlertMail


@pytest.fixture
def staff(tokens: TokenFactory) -> Staff:
    return Staff(tokens)


def _now(alert_mail: AlertMail) -> Any:
    return alert_mail.runtime.clock.now()


async def test_four_eyes_flow_sends_and_records_every_step(
    alert_mail: AlertMail, staff: Staff
) -> None:
    client = alert_mail.client
    draft = await compose(client, staff.author(), alert_body(_now(alert_mail)))
    assert draft["id"].startswith("alt_")
    assert (draft["status"], draft["department"], draft["created_by"]) == (
        "draft",
        "bosai",
        "stf_author",
    )
    assert set(draft["allowed_transitions"]) == {"submit", "withdraw", "publish_emergency"}

    submitted = await client.post(f"/v1/alerts/{draft['id']}/submit", headers=staff.author())
    assert submitted.json()["status"] == "submitted"
    approved = await client.post(f"/v1/alerts/{draft['id']}/approve", headers=staff.approver())
    assert approved.status_code == 200, approved.text
    sent = approved.json()
    # Nobody subscribes yet: the alert has no delivery to wait for and completes at once.
    assert (sent["status"], sent["approved_by"], sent["recipients"]) == (
        "completed",
        "stf_approver",
        0,
    )
    assert sent["sent_at"] is not None
    assert sent["completed_at"] is not None

    events = (await client.get(f"/v1/alerts/{draft['id']}/events", headers=staff.author())).json()[
        "items"
    ]
    assert [(e["transition"], e["from_status"], e["to_status"], e["actor"]) for e in events] == [
        ("create", None, "draft", "stf_author"),
        ("submit", "draft", "submitted", "stf_author"),
        ("approve", "submitted", "sending", "stf_approver"),
        ("complete", "sending", "completed", None),
    ]
    assert await audit_actions(alert_mail.runtime.db, draft["id"]) == [
        "alert.approved",
        "alert.completed",
        "alert.created",
        "alert.submitted",
    ]


async def test_the_author_cannot_approve_their_own_alert(
    alert_mail: AlertMail, staff: Staff
) -> None:
    client = alert_mail.client
    both = staff.author_and_approver()
    draft = await compose(client, both, alert_body(_now(alert_mail)))
    await client.post(f"/v1/alerts/{draft['id']}/submit", headers=both)
    response = await client.post(f"/v1/alerts/{draft['id']}/approve", headers=both)
    assert response.status_code == 403
    problem = response.json()
    assert problem["type"] == "/problems/four-eyes"
    assert "four-eyes" in problem["detail"]
    rejected = await client.post(
        f"/v1/alerts/{draft['id']}/reject", json={"note": "自分で却下"}, headers=both
    )
    assert rejected.status_code == 403
    current = await client.get(f"/v1/alerts/{draft['id']}", headers=both)
    assert current.json()["status"] == "submitted"


async def test_reject_sends_the_alert_back_to_draft_with_a_note(
    alert_mail: AlertMail, staff: Staff
) -> None:
    client = alert_mail.client
    draft = await compose(client, staff.author(), alert_body(_now(alert_mail)))
    await client.post(f"/v1/alerts/{draft['id']}/submit", headers=staff.author())
    rejected = await client.post(
        f"/v1/alerts/{draft['id']}/reject",
        json={"note": "避難所名を正確に書いてください"},
        headers=staff.approver(),
    )
    assert rejected.json()["status"] == "draft"
    edited = await client.patch(
        f"/v1/alerts/{draft['id']}",
        json={
            "content": {"ja": {"headline": "中央地区に避難指示", "body": "中央小学校体育館へ避難"}}
        },
        headers=staff.author(),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["content"]["ja"]["instruction"] is None
    events = (
        await client.get(f"/v1/alerts/{draft['id']}/events", headers=staff.approver())
    ).json()["items"]
    reject = next(e for e in events if e["transition"] == "reject")
    assert (reject["note"], reject["to_status"]) == ("避難所名を正確に書いてください", "draft")
    assert [e["transition"] for e in events][-1] == "edit"
    assert "alert.rejected" in await audit_actions(alert_mail.runtime.db, draft["id"])


async def test_emergency_publisher_sends_at_once(alert_mail: AlertMail, staff: Staff) -> None:
    client = alert_mail.client
    draft = await compose(client, staff.emergency(), alert_body(_now(alert_mail)))
    for headers in (staff.author(), staff.approver()):
        refused = await client.post(f"/v1/alerts/{draft['id']}/publish-emergency", headers=headers)
        assert refused.status_code == 403
        assert "emergency_publisher" in refused.json()["detail"]
    published = await client.post(
        f"/v1/alerts/{draft['id']}/publish-emergency", headers=staff.emergency()
    )
    assert published.status_code == 200, published.text
    body = published.json()
    assert body["emergency"] is True
    assert body["status"] in ("sending", "completed")
    assert "alert.published_emergency" in await audit_actions(alert_mail.runtime.db, draft["id"])


async def test_emergency_publication_is_for_drafts_only(
    alert_mail: AlertMail, staff: Staff
) -> None:
    client = alert_mail.client
    draft = await compose(client, staff.emergency(), alert_body(_now(alert_mail)))
    await client.post(f"/v1/alerts/{draft['id']}/submit", headers=staff.emergency())
    response = await client.post(
        f"/v1/alerts/{draft['id']}/publish-emergency", headers=staff.emergency()
    )
    assert response.status_code == 409
    assert response.json()["current_state"] == "submitted"


async def test_illegal_transitions_name_the_current_state(
    alert_mail: AlertMail, staff: Staff
) -> None:
    client = alert_mail.client
    draft = await compose(client, staff.author(), alert_body(_now(alert_mail)))
    early = await client.post(f"/v1/alerts/{draft['id']}/approve", headers=staff.approver())
    assert early.status_code == 409
    assert (early.json()["current_state"], early.json()["transition"]) == ("draft", "approve")
    withdrawn = await client.post(
        f"/v1/alerts/{draft['id']}/withdraw", json={"note": "誤報"}, headers=staff.author()
    )
    assert withdrawn.json()["status"] == "withdrawn"
    again = await client.post(f"/v1/alerts/{draft['id']}/submit", headers=staff.author())
    assert again.status_code == 409
    assert again.json()["current_state"] == "withdrawn"
    edit = await client.patch(
        f"/v1/alerts/{draft['id']}", json={"severity": "Minor"}, headers=staff.author()
    )
    assert edit.status_code == 409
    assert edit.json()["current_state"] == "withdrawn"


async def test_roles_are_required(alert_mail: AlertMail, tokens: TokenFactory) -> None:
    client = alert_mail.client
    body = alert_body(_now(alert_mail))
    anonymous = await client.post("/v1/alerts", json=body)
    assert anonymous.status_code == 401
    citizen = await client.post("/v1/alerts", json=body, headers=tokens.citizen())
    assert citizen.status_code == 403
    no_role = await client.post(
        "/v1/alerts", json=body, headers=tokens.staff("stf_x", "staff", department="bosai")
    )
    assert no_role.status_code == 403
    assert "alert_publisher" in no_role.json()["detail"]
    admin = await client.post("/v1/alerts", json=body, headers=tokens.admin())
    assert admin.status_code == 201


async def test_departments_only_see_and_act_on_their_own_alerts(
    alert_mail: AlertMail, staff: Staff
) -> None:
    client = alert_mail.client
    ours = await compose(client, staff.author(), alert_body(_now(alert_mail)))
    foreign = await client.post(
        "/v1/alerts", json=alert_body(_now(alert_mail)), headers=staff.other_department()
    )
    assert foreign.status_code == 403
    assert foreign.json()["errors"][0]["field"] == "category"
    theirs = await compose(
        client,
        staff.other_department(),
        alert_body(_now(alert_mail), category="suspicious-person", districts=[]),
    )
    for path in ("", "/events"):
        hidden = await client.get(
            f"/v1/alerts/{ours['id']}{path}", headers=staff.other_department()
        )
        assert hidden.status_code == 404
    for action in ("submit", "approve", "publish-emergency", "withdraw"):
        response = await client.post(
            f"/v1/alerts/{ours['id']}/{action}", headers=staff.other_department()
        )
        assert response.status_code == 404, action
    listed = (await client.get("/v1/alerts", headers=staff.author())).json()["items"]
    assert [a["id"] for a in listed] == [ours["id"]]
    listed = (await client.get("/v1/alerts", headers=staff.other_department())).json()["items"]
    assert [a["id"] for a in listed] == [theirs["id"]]


async def test_expiry_must_be_ahead_when_composing_and_when_sending(
    alert_mail: AlertMail, staff: Staff
) -> None:
    client = alert_mail.client
    now = _now(alert_mail)
    past = await client.post(
        "/v1/alerts",
        json=alert_body(now, expires_at=(now - timedelta(minutes=1)).isoformat()),
        headers=staff.author(),
    )
    assert past.status_code == 422
    assert past.json()["errors"][0]["field"] == "expires_at"
    naive = await client.post(
        "/v1/alerts", json=alert_body(now, expires_at="2030-01-01T00:00:00"), headers=staff.author()
    )
    assert naive.status_code == 422

    short = await compose(
        client,
        staff.author(),
        alert_body(now, expires_at=(now + timedelta(hours=1)).isoformat()),
    )
    await client.post(f"/v1/alerts/{short['id']}/submit", headers=staff.author())
    await alert_mail.advance(timedelta(hours=2))
    late = await client.post(f"/v1/alerts/{short['id']}/approve", headers=staff.approver())
    assert late.status_code == 409
    problem = late.json()
    assert problem["type"] == "/problems/alert-expired"
    assert problem["errors"][0]["field"] == "expires_at"

    emergency = await compose(
        client,
        staff.emergency(),
        alert_body(
            _now(alert_mail), expires_at=(_now(alert_mail) + timedelta(minutes=30)).isoformat()
        ),
    )
    await alert_mail.advance(timedelta(hours=1))
    too_late = await client.post(
        f"/v1/alerts/{emergency['id']}/publish-emergency", headers=staff.emergency()
    )
    assert too_late.status_code == 409
    assert too_late.json()["errors"][0]["field"] == "expires_at"


async def test_an_identical_alert_within_the_window_is_refused(
    alert_mail: AlertMail, staff: Staff
) -> None:
    client = alert_mail.client
    body = alert_body(_now(alert_mail))
    first = await send_four_eyes(client, staff, body)
    second = await compose(client, staff.author(), body)
    await client.post(f"/v1/alerts/{second['id']}/submit", headers=staff.author())
    refused = await client.post(f"/v1/alerts/{second['id']}/approve", headers=staff.approver())
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["type"] == "/problems/duplicate-alert"
    assert problem["duplicate_of"] == first["id"]
    assert first["id"] in problem["detail"]
    # Different districts make a different alert.
    other = await compose(client, staff.emergency(), {**body, "districts": ["chuo", "nanbu"]})
    published = await client.post(
        f"/v1/alerts/{other['id']}/publish-emergency", headers=staff.emergency()
    )
    assert published.status_code == 200
    # Outside the window the same text may go out again.
    await alert_mail.advance(timedelta(minutes=alert_mail.settings.duplicate_window_minutes + 1))
    later = await client.post(f"/v1/alerts/{second['id']}/approve", headers=staff.approver())
    assert later.status_code == 200, later.text


async def test_updates_and_cancellations_reference_a_sent_alert(
    alert_mail: AlertMail, staff: Staff
) -> None:
    client = alert_mail.client
    now = _now(alert_mail)
    draft = await compose(client, staff.author(), alert_body(now))
    for msg_type, references, field in (
        ("Update", None, "references"),
        ("Cancel", None, "references"),
        ("Alert", draft["id"], "references"),
        ("Update", draft["id"], "references"),  # not sent yet
        ("Update", "alt_00000000000000000000000000", "references"),
    ):
        response = await client.post(
            "/v1/alerts",
            json=alert_body(now, msg_type=msg_type, references=references),
            headers=staff.author(),
        )
        assert response.status_code == 422, (msg_type, references)
        assert response.json()["errors"][0]["field"] == field

    original = await send_four_eyes(client, staff, alert_body(now))
    update_text = {"ja": {"headline": "避難指示の対象を拡大", "body": "南部地区も対象です。"}}
    update = await send_four_eyes(
        client,
        staff,
        alert_body(
            now,
            msg_type="Update",
            references=original["id"],
            districts=["chuo", "nanbu"],
            content=update_text,
        ),
    )
    assert update["references"] == original["id"]
    after_update = (await client.get(f"/v1/alerts/{original['id']}", headers=staff.author())).json()
    assert (after_update["superseded_by"], after_update["cancelled_at"]) == (update["id"], None)

    cancel_text = {"ja": {"headline": "避難指示を解除", "body": "水位が下がりました。"}}
    cancel = await send_four_eyes(
        client,
        staff,
        alert_body(now, msg_type="Cancel", references=original["id"], content=cancel_text),
    )
    after_cancel = (await client.get(f"/v1/alerts/{original['id']}", headers=staff.author())).json()
    assert after_cancel["superseded_by"] == cancel["id"]
    assert after_cancel["cancelled_at"] is not None
    twice = await client.post(
        "/v1/alerts",
        json=alert_body(now, msg_type="Cancel", references=original["id"]),
        headers=staff.author(),
    )
    assert twice.status_code == 422
    assert "cancelled" in twice.json()["detail"]


async def test_a_draft_can_be_edited_field_by_field(alert_mail: AlertMail, staff: Staff) -> None:
    client = alert_mail.client
    draft = await compose(client, staff.author(), alert_body(_now(alert_mail)))
    edited = await client.patch(
        f"/v1/alerts/{draft['id']}",
        json={"districts": ["nanbu", "chuo", "chuo"], "severity": "Extreme"},
        headers=staff.author(),
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["districts"], body["severity"], body["version"]) == (
        ["chuo", "nanbu"],
        "Extreme",
        draft["version"] + 1,
    )
    for patch, field in (
        ({"category": None}, "category"),
        ({"districts": ["atlantis"]}, "districts"),
        ({"category": "no-such-category"}, "category"),
        ({"colour": "red"}, "colour"),
    ):
        response = await client.patch(
            f"/v1/alerts/{draft['id']}", json=patch, headers=staff.author()
        )
        assert response.status_code == 422, patch
        assert field in str(response.json()["errors"][0]), patch


async def test_compose_validates_its_body(alert_mail: AlertMail, staff: Staff) -> None:
    client = alert_mail.client
    now = _now(alert_mail)
    too_long = {"ja": {"headline": "あ" * 141, "body": "本文"}}
    no_ja = {"en": {"headline": "Evacuate", "body": "Now"}}
    for changes in (
        {"content": too_long},
        {"content": no_ja},
        {"severity": "Catastrophic"},
        {"unknown": 1},
        {"districts": ["chuo\x00"]},
        {
            "content": {
                "ja": {"headline": "見出し", "body": "本文"},
                "fr": {"headline": "x", "body": "y"},
            }
        },
    ):
        response = await client.post(
            "/v1/alerts", json=alert_body(now, **changes), headers=staff.author()
        )
        assert response.status_code == 422, changes
        assert response.json()["errors"], changes


async def test_compose_honours_idempotency_keys(alert_mail: AlertMail, staff: Staff) -> None:
    client = alert_mail.client
    body = alert_body(_now(alert_mail))
    headers = {**staff.author(), "Idempotency-Key": "alert-key-1"}
    first = await client.post("/v1/alerts", json=body, headers=headers)
    replay = await client.post("/v1/alerts", json=body, headers=headers)
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json()["id"] == first.json()["id"]
    different = await client.post("/v1/alerts", json={**body, "severity": "Minor"}, headers=headers)
    assert different.status_code == 422
    listed = (await client.get("/v1/alerts", headers=staff.author())).json()["items"]
    assert len(listed) == 1


async def test_lists_filter_and_page(alert_mail: AlertMail, staff: Staff) -> None:
    client = alert_mail.client
    now = _now(alert_mail)
    ids = []
    for n in range(3):
        body = alert_body(now, content={"ja": {"headline": f"お知らせ{n}", "body": "本文"}})
        ids.append((await compose(client, staff.author(), body))["id"])
    await client.post(f"/v1/alerts/{ids[0]}/submit", headers=staff.author())
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/alerts", params=params, headers=staff.author())).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    submitted = await client.get(
        "/v1/alerts", params={"status": "submitted"}, headers=staff.author()
    )
    assert [a["id"] for a in submitted.json()["items"]] == [ids[0]]
    bad = await client.get("/v1/alerts", params={"status": "lost"}, headers=staff.author())
    assert bad.status_code == 422
    forged = await client.get("/v1/alerts", params={"cursor": "WzFd"}, headers=staff.author())
    assert forged.status_code == 422
    assert forged.json()["errors"][0]["field"] == "cursor"


async def test_public_list_shows_only_sent_alerts_newest_first(
    alert_mail: AlertMail, staff: Staff
) -> None:
    client = alert_mail.client
    now = _now(alert_mail)
    await compose(client, staff.author(), alert_body(now))  # a draft stays private
    first = await send_four_eyes(client, staff, alert_body(now, districts=[]))
    await alert_mail.advance(timedelta(seconds=1))
    second = await send_four_eyes(client, staff, alert_body(now, districts=["hokubu"]))
    page = (await client.get("/v1/alerts/public", params={"limit": 1})).json()
    assert [a["id"] for a in page["items"]] == [second["id"]]
    assert page["items"][0]["cap_url"].endswith(f"/v1/feeds/cap/{second['id']}.xml")
    assert "created_by" not in page["items"][0]
    rest = (
        await client.get("/v1/alerts/public", params={"limit": 1, "cursor": page["next_cursor"]})
    ).json()
    assert [a["id"] for a in rest["items"]] == [first["id"]]
    assert rest["next_cursor"] is None
