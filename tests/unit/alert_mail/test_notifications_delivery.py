"""Notifications leave through the sending workers: the real SMTP sink receives the rendered
Japanese mail, and the status a client reads is its delivery's, simulator addresses included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from deploy.mailsink import MailSink
from services.alert_mail.delivery.simulated import SIMULATOR_DOMAIN
from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.conftest import AlertMail
from tests.unit.alert_mail.delivery_support import Quiet, quiet_service

CLIENT = "svc_facility_booking"
VALUES: dict[str, Any] = {
    "name": "佐藤 健",
    "reservation_id": "rsv_0001",
    "facility_name": "中央公民館",
    "room_name": "第1会議室",
    "date": "2026年12月5日（土）",
    "start_time": "13:00",
    "end_time": "15:00",
    "fee": "1,200",
    "pay_at_counter": True,
}


@pytest.fixture
async def quiet(db_url: str, tokens: TokenFactory, sink: MailSink) -> AsyncIterator[Quiet]:
    async with quiet_service(db_url, tokens, sink) as service:
        yield service


def _headers(service: AlertMail) -> dict[str, str]:
    return service.tokens.service(CLIENT, "notifications:send")


async def _send(service: AlertMail, email: str, **extra: Any) -> dict[str, Any]:
    response = await service.client.post(
        "/v1/notifications",
        json={
            "email_address": email,
            "template_id": "tpl_facility_booking_confirmed",
            "personalisation": VALUES,
        }
        | extra,
        headers=_headers(service),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _status(service: AlertMail, notification_id: str) -> dict[str, Any]:
    response = await service.client.get(
        f"/v1/notifications/{notification_id}", headers=_headers(service)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_sink_receives_the_rendered_japanese_mail(quiet: Quiet) -> None:
    sent = await _send(quiet, "ken.sato@example.jp", reference="rsv_0001")
    assert sent["status"] == "created"
    assert sent["completed_at"] is None

    await quiet.worker.run_once()

    [stored] = quiet.sink.for_recipient("ken.sato@example.jp")
    mail = message_from_bytes(stored.raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    assert mail["Subject"] == "【デモ市】施設のご予約が確定しました（中央公民館）"
    assert mail["Subject"] == sent["subject"]
    assert mail["Auto-Submitted"] == "auto-generated"
    part = mail.get_body(("plain",))
    assert part is not None
    text = part.get_content()
    assert sent["body"] in text.replace("\r\n", "\n")
    for line in (
        "佐藤 健 様",
        "予約番号: rsv_0001",
        "施設: 中央公民館 第1会議室",
        "日時: 2026年12月5日（土） 13:00〜15:00",
        "使用料は、ご利用日に窓口でお支払いください。",
        "デモ市役所",
    ):
        assert line in text

    read = await _status(quiet, sent["id"])
    assert read["status"] == "delivered"
    assert read["completed_at"] is not None
    assert read["subject"] == sent["subject"]


async def test_a_refused_address_ends_permanent_failure(quiet: Quiet) -> None:
    quiet.sink.fail("nobody@example.jp", 550, "5.1.1 no such user")
    sent = await _send(quiet, "nobody@example.jp")
    await quiet.worker.run_once()
    read = await _status(quiet, sent["id"])
    assert read["status"] == "permanent-failure"
    assert read["completed_at"] is not None
    listed = await quiet.client.get(
        "/v1/notifications", params={"status": "permanent-failure"}, headers=_headers(quiet)
    )
    assert [n["id"] for n in listed.json()["items"]] == [sent["id"]]


async def test_simulator_addresses_end_in_their_named_status_without_mail(quiet: Quiet) -> None:
    sent = {
        local: await _send(quiet, f"{local}@{SIMULATOR_DOMAIN}")
        for local in ("delivered", "temp-fail", "perm-fail")
    }
    await quiet.worker.run_once()
    statuses = {local: (await _status(quiet, n["id"]))["status"] for local, n in sent.items()}
    assert statuses == {
        "delivered": "delivered",
        "temp-fail": "temporary-failure",
        "perm-fail": "permanent-failure",
    }
    assert quiet.sink.messages == []


async def test_the_running_service_sends_once_the_request_commits(alert_mail: AlertMail) -> None:
    sent = await _send(alert_mail, "hanako@example.jp")
    [stored] = await alert_mail.sink.wait_for(to="hanako@example.jp", within=10)
    assert stored.subject == sent["subject"]
