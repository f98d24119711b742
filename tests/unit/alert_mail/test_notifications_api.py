"""Transactional notifications through the API: templates and their versions, sending from a
template (queued in the same transaction), status per client, idempotency, scopes, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, select

from services.alert_mail.models import Delivery, OutgoingMessage
from services.kit.tables import OutboxMessage
from tests.unit.alert_mail.conftest import AlertMail

SEND = "notifications:send"
MANAGE = "notifications:manage"
CLIENT = "svc_e_application"
OTHER = "svc_facility_booking"

TEMPLATE: dict[str, Any] = {
    "name": "申請受付のお知らせ",
    "description": "e_application: an application was received",
    "subject": "【デモ市】((手続名))の申請を受け付けました",
    "body": (
        "((氏名)) 様\n\n((手続名))の申請を受け付けました。\n受付番号: ((受付番号))\n"
        "((手数料あり??手数料のお支払いが必要です。))\nこのメールは送信専用です。"
    ),
}
VALUES = {"氏名": "山田 太郎", "手続名": "住民票の写しの交付", "受付番号": "2026-0042"}


def _admin(alert_mail: AlertMail) -> dict[str, str]:
    return alert_mail.tokens.admin()


def _sender(alert_mail: AlertMail, client: str = CLIENT) -> dict[str, str]:
    return alert_mail.tokens.service(client, SEND)


async def _template(alert_mail: AlertMail, **changes: Any) -> dict[str, Any]:
    response = await alert_mail.client.post(
        "/v1/notifications/templates", json=TEMPLATE | changes, headers=_admin(alert_mail)
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/notifications/templates/{body['id']}"
    return body


async def _send(
    alert_mail: AlertMail,
    template_id: str,
    *,
    email: str = "taro@example.jp",
    client: str = CLIENT,
    expect: int = 201,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    payload = {"email_address": email, "template_id": template_id, "personalisation": VALUES}
    response = await alert_mail.client.post(
        "/v1/notifications",
        json=payload | extra,
        headers=_sender(alert_mail, client) | (headers or {}),
    )
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def _audit_actions(alert_mail: AlertMail, target: str) -> list[str]:
    """In the order they happened. A query without ORDER BY has none: on PostgreSQL the relay's
    UPDATE of a shipped row moves it in the heap (seen failing under load)."""
    async with alert_mail.runtime.db.session(write=False) as session:
        rows = (
            await session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.topic) == "audit")
                .order_by(col(OutboxMessage.created_at))
            )
        ).all()
    return [r.payload["action"] for r in rows if r.payload["target"] == target]


# --- templates -------------------------------------------------------------------------------


async def test_an_edit_makes_a_new_version_and_old_versions_stay_readable(
    alert_mail: AlertMail,
) -> None:
    created = await _template(alert_mail)
    assert created["id"].startswith("tpl_")
    assert created["version"] == 1
    assert created["state"] == "active"
    assert created["placeholders"] == ["手続名", "氏名", "受付番号"]
    assert created["optional_placeholders"] == ["手数料あり"]
    url = f"/v1/notifications/templates/{created['id']}"

    renamed = await alert_mail.client.patch(
        url, json={"name": "申請受付"}, headers=_admin(alert_mail)
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["version"]) == ("申請受付", 1)

    edited = await alert_mail.client.patch(
        url, json={"body": "((氏名)) 様\n受け付けました。"}, headers=_admin(alert_mail)
    )
    assert edited.status_code == 200, edited.text
    latest = edited.json()
    assert latest["version"] == 2
    assert latest["subject"] == TEMPLATE["subject"]  # unchanged fields carry over
    assert [v["version"] for v in latest["versions"]] == [2, 1]
    assert latest["versions"][0]["created_by"] == "stf_admin"

    first = (await alert_mail.client.get(f"{url}/versions/1", headers=_admin(alert_mail))).json()
    assert first["body"] == TEMPLATE["body"]
    second = (await alert_mail.client.get(f"{url}/versions/2", headers=_admin(alert_mail))).json()
    assert second["placeholders"] == ["手続名", "氏名"]
    missing = await alert_mail.client.get(f"{url}/versions/3", headers=_admin(alert_mail))
    assert missing.status_code == 404

    empty = await alert_mail.client.patch(url, json={}, headers=_admin(alert_mail))
    assert empty.status_code == 422
    assert {e["field"] for e in empty.json()["errors"]} == {
        "name",
        "description",
        "subject",
        "body",
    }

    same = await alert_mail.client.patch(
        url, json={"body": "((氏名)) 様\n受け付けました。"}, headers=_admin(alert_mail)
    )
    assert same.json()["version"] == 2  # an identical body is no new version

    page = await alert_mail.client.get(
        f"{url}/versions", params={"limit": 1}, headers=_admin(alert_mail)
    )
    assert [v["version"] for v in page.json()["items"]] == [2]
    rest = await alert_mail.client.get(
        f"{url}/versions",
        params={"limit": 1, "cursor": page.json()["next_cursor"]},
        headers=_admin(alert_mail),
    )
    assert [v["version"] for v in rest.json()["items"]] == [1]
    assert rest.json()["next_cursor"] is None

    assert await _audit_actions(alert_mail, created["id"]) == [
        "notification_template.created",
        "notification_template.updated",
        "notification_template.updated",
    ]


async def test_archived_templates_cannot_be_edited_or_used_until_restored(
    alert_mail: AlertMail,
) -> None:
    template = await _template(alert_mail)
    url = f"/v1/notifications/templates/{template['id']}"
    archived = await alert_mail.client.post(f"{url}/archive", headers=_admin(alert_mail))
    assert archived.status_code == 200, archived.text
    assert archived.json()["state"] == "archived"
    assert archived.json()["allowed_transitions"] == ["restore"]

    edit = await alert_mail.client.patch(url, json={"name": "x"}, headers=_admin(alert_mail))
    assert edit.status_code == 409
    assert edit.json()["current_state"] == "archived"
    again = await alert_mail.client.post(f"{url}/archive", headers=_admin(alert_mail))
    assert again.status_code == 409

    refused = await _send(alert_mail, template["id"], expect=422)
    assert refused["errors"][0]["field"] == "template_id"

    listed = await alert_mail.client.get(
        "/v1/notifications/templates", params={"state": "active"}, headers=_admin(alert_mail)
    )
    assert template["id"] not in [t["id"] for t in listed.json()["items"]]

    restored = await alert_mail.client.post(f"{url}/restore", headers=_admin(alert_mail))
    assert restored.json()["state"] == "active"
    await _send(alert_mail, template["id"])
    assert await _audit_actions(alert_mail, template["id"]) == [
        "notification_template.created",
        "notification_template.archived",
        "notification_template.restored",
    ]


async def test_preview_renders_without_sending_and_names_a_missing_field(
    alert_mail: AlertMail,
) -> None:
    template = await _template(alert_mail)
    url = f"/v1/notifications/templates/{template['id']}/preview"
    shown = await alert_mail.client.post(
        url,
        json={"personalisation": VALUES | {"手数料あり": "yes"}},
        headers=_sender(alert_mail),
    )
    assert shown.status_code == 200, shown.text
    assert shown.json()["subject"] == "【デモ市】住民票の写しの交付の申請を受け付けました"
    assert "手数料のお支払いが必要です。" in shown.json()["body"]
    assert shown.json()["template_version"] == 1

    missing = await alert_mail.client.post(
        url, json={"personalisation": {"氏名": "山田"}}, headers=_sender(alert_mail)
    )
    assert missing.status_code == 422
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in missing.json()["errors"]] == [
        "personalisation.手続名",
        "personalisation.受付番号",
    ]
    async with alert_mail.runtime.db.session(write=False) as session:
        assert (await session.exec(select(Delivery))).all() == []


async def test_malformed_templates_are_refused_naming_the_field(alert_mail: AlertMail) -> None:
    response = await alert_mail.client.post(
        "/v1/notifications/templates",
        json=TEMPLATE | {"body": "((氏名) 様"},
        headers=_admin(alert_mail),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    unknown = await alert_mail.client.post(
        "/v1/notifications/templates",
        json=TEMPLATE | {"colour": "red"},
        headers=_admin(alert_mail),
    )
    assert unknown.status_code == 422
    assert "colour" in unknown.text


# --- notifications ---------------------------------------------------------------------------


async def test_a_notification_is_rendered_and_queued_in_the_same_transaction(
    alert_mail: AlertMail,
) -> None:
    template = await _template(alert_mail)
    sent = await _send(alert_mail, template["id"], reference="app_0042")
    assert sent["id"].startswith("ntf_")
    assert sent["status"] in ("created", "sending", "delivered")
    assert sent["template_id"] == template["id"]
    assert sent["template_version"] == 1
    assert sent["subject"] == "【デモ市】住民票の写しの交付の申請を受け付けました"
    assert sent["body"].startswith("山田 太郎 様\n\n住民票の写しの交付の申請を受け付けました。")
    assert "手数料" not in sent["body"]
    assert sent["reference"] == "app_0042"
    assert sent["created_at"].endswith("Z") or "+" in sent["created_at"]

    async with alert_mail.runtime.db.session(write=False) as session:
        delivery, message = (
            await session.exec(
                select(Delivery, OutgoingMessage).join(
                    OutgoingMessage, col(OutgoingMessage.id) == col(Delivery.message_id)
                )
            )
        ).one()
    assert (delivery.kind, delivery.email, delivery.priority) == ("message", "taro@example.jp", 2)
    assert message.kind == "notification"
    assert (message.subject, message.text) == (sent["subject"], sent["body"])
    assert await _audit_actions(alert_mail, sent["id"]) == ["notification.created"]


async def test_status_is_readable_by_the_sending_client_only(alert_mail: AlertMail) -> None:
    template = await _template(alert_mail)
    sent = await _send(alert_mail, template["id"])
    url = f"/v1/notifications/{sent['id']}"
    mine = await alert_mail.client.get(url, headers=_sender(alert_mail))
    assert mine.status_code == 200
    assert mine.json()["id"] == sent["id"]
    assert mine.json()["status"] in (
        "created",
        "sending",
        "delivered",
    )
    theirs = await alert_mail.client.get(url, headers=_sender(alert_mail, OTHER))
    assert theirs.status_code == 404
    listed = await alert_mail.client.get("/v1/notifications", headers=_sender(alert_mail, OTHER))
    assert listed.json() == {"items": [], "next_cursor": None}
    unknown = await alert_mail.client.get(
        "/v1/notifications/ntf_01JD0000000000000000000000", headers=_sender(alert_mail)
    )
    assert unknown.status_code == 404
    bad_id = await alert_mail.client.get("/v1/notifications/42", headers=_sender(alert_mail))
    assert bad_id.status_code == 422


async def test_list_filters_and_pages_newest_first(alert_mail: AlertMail) -> None:
    first = await _template(alert_mail)
    second = await _template(alert_mail, name="施設予約確定のお知らせ")
    a = await _send(alert_mail, first["id"], reference="r-1")
    b = await _send(alert_mail, second["id"], reference="r-2")
    c = await _send(alert_mail, first["id"], reference="r-1")
    headers = _sender(alert_mail)

    async def ids(**params: Any) -> list[str]:
        response = await alert_mail.client.get("/v1/notifications", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [n["id"] for n in response.json()["items"]]

    assert await ids() == [c["id"], b["id"], a["id"]]
    assert await ids(reference="r-1") == [c["id"], a["id"]]
    assert await ids(template_id=second["id"]) == [b["id"]]
    assert await ids(status="permanent-failure") == []
    page = (
        await alert_mail.client.get("/v1/notifications", params={"limit": 2}, headers=headers)
    ).json()
    assert [n["id"] for n in page["items"]] == [c["id"], b["id"]]
    assert await ids(limit=2, cursor=page["next_cursor"]) == [a["id"]]
    bad = await alert_mail.client.get(
        "/v1/notifications", params={"status": "lost"}, headers=headers
    )
    assert bad.status_code == 422
    too_many = await alert_mail.client.get(
        "/v1/notifications", params={"limit": 101}, headers=headers
    )
    assert too_many.status_code == 422


async def test_an_idempotency_key_replays_without_a_second_mail(alert_mail: AlertMail) -> None:
    template = await _template(alert_mail)
    key = {"Idempotency-Key": "app-0042-received"}
    first = await _send(alert_mail, template["id"], headers=key)
    response = await alert_mail.client.post(
        "/v1/notifications",
        json={"email_address": "taro@example.jp", "template_id": template["id"]}
        | {"personalisation": VALUES},
        headers=_sender(alert_mail) | key,
    )
    assert response.status_code == 200
    assert response.headers["idempotent-replayed"] == "true"
    assert response.json()["id"] == first["id"]
    changed = await _send(
        alert_mail, template["id"], email="hanako@example.jp", headers=key, expect=422
    )
    assert changed["type"].endswith("idempotency-key-reused")
    other_client = await _send(alert_mail, template["id"], client=OTHER, headers=key)
    assert other_client["id"] != first["id"]  # keys are scoped per client
    async with alert_mail.runtime.db.session(write=False) as session:
        assert len((await session.exec(select(Delivery))).all()) == 2


async def test_missing_personalisation_is_a_422_and_queues_nothing(alert_mail: AlertMail) -> None:
    template = await _template(alert_mail)
    response = await alert_mail.client.post(
        "/v1/notifications",
        json={
            "email_address": "taro@example.jp",
            "template_id": template["id"],
            "personalisation": {"氏名": "山田", "手続名": "転入届", "extra": "ignored"},
        },
        headers=_sender(alert_mail),
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "personalisation.受付番号", "message": "this template needs a value"}
    ]
    async with alert_mail.runtime.db.session(write=False) as session:
        assert (await session.exec(select(Delivery))).all() == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email_address": "not-an-address"}, "email_address"),
        ({"email_address": "taro@example.jp\r\nBcc: x@example.jp"}, "email_address"),
        ({"template_id": "tpl_missing"}, "template_id"),
        ({"template_id": "../etc"}, "template_id"),
        ({"reference": "x" * 256}, "reference"),
        ({"personalisation": {"氏名": "a\x00b"}}, "personalisation"),
        ({"personalisation": {"氏名": {"nested": 1}}}, "personalisation"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    alert_mail: AlertMail, change: dict[str, Any], field: str
) -> None:
    template = await _template(alert_mail)
    payload = {"email_address": "taro@example.jp", "template_id": template["id"]}
    payload |= {"personalisation": VALUES} | change
    response = await alert_mail.client.post(
        "/v1/notifications", json=payload, headers=_sender(alert_mail)
    )
    assert response.status_code == 422, response.text
    assert any(field in e["field"] for e in response.json()["errors"]), response.text


async def test_scopes_decide_who_manages_and_who_sends(alert_mail: AlertMail) -> None:
    tokens = alert_mail.tokens
    client = alert_mail.client
    template = await _template(alert_mail)
    templates_url = "/v1/notifications/templates"
    manager = tokens.service("svc_portal", MANAGE)
    by_manager = await client.post(templates_url, json=TEMPLATE, headers=manager)
    assert by_manager.status_code == 201
    assert by_manager.json()["created_by"] == "svc_portal"

    for headers in (
        tokens.service(CLIENT, SEND),
        tokens.staff("stf_clerk", "staff"),
        tokens.citizen(),
    ):
        refused = await client.post(templates_url, json=TEMPLATE, headers=headers)
        assert refused.status_code == 403, refused.text
    assert (await client.post(templates_url, json=TEMPLATE)).status_code == 401

    readable = await client.get(f"{templates_url}/{template['id']}", headers=_sender(alert_mail))
    assert readable.status_code == 200
    not_for_citizens = await client.get(templates_url, headers=tokens.citizen())
    assert not_for_citizens.status_code == 403

    payload = {
        "email_address": "taro@example.jp",
        "template_id": template["id"],
        "personalisation": VALUES,
    }
    for headers in (manager, _admin(alert_mail), tokens.citizen()):
        refused = await client.post("/v1/notifications", json=payload, headers=headers)
        assert refused.status_code == 403, refused.text
    list_refused = await client.get("/v1/notifications", headers=manager)
    assert list_refused.status_code == 403
