"""The dev mail sink is a real SMTP server: what aiosmtplib sends can be read back through the
mailbox API, deleted, and chosen recipients are refused with the configured 4xx/5xx reply."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import httpx
import pytest

from deploy.mailsink import MailSink, create_mailbox_app
from tests.unit.apps.test_route_auth import api_routes, undeclared_routes

SUBJECT = "【デモ市】避難指示（緊急）のお知らせ"


@pytest.fixture
async def sink() -> AsyncIterator[MailSink]:
    async with MailSink("127.0.0.1", 0) as sink:
        yield sink


@pytest.fixture
async def mailbox(sink: MailSink) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_mailbox_app(sink))
    async with httpx.AsyncClient(transport=transport, base_url="http://mailbox") as client:
        yield client


def _message(to: str, subject: str = SUBJECT) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "デモ市役所 <no-reply@city.demo.example.jp>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("中央地区に避難指示を発令しました。\n直ちに避難してください。")
    message.add_alternative(
        "<p>中央地区に<strong>避難指示</strong>を発令しました。</p>", subtype="html"
    )
    return message


async def test_a_sent_message_is_read_back_and_deleted(
    sink: MailSink, mailbox: httpx.AsyncClient
) -> None:
    await aiosmtplib.send(_message("taro@example.jp"), hostname="127.0.0.1", port=sink.port)
    await aiosmtplib.send(
        _message("hanako@example.jp", "別件"), hostname="127.0.0.1", port=sink.port
    )

    listing = (await mailbox.get("/api/messages")).json()
    assert listing["total"] == 2
    assert [m["subject"] for m in listing["messages"]] == ["別件", SUBJECT]  # newest first

    only_taro = (await mailbox.get("/api/messages", params={"to": "TARO@example.jp"})).json()
    assert only_taro["count"] == 1
    summary = only_taro["messages"][0]
    assert summary["rcpt_tos"] == ["taro@example.jp"]
    assert summary["from_"] == "デモ市役所 <no-reply@city.demo.example.jp>"

    detail = (await mailbox.get(f"/api/messages/{summary['id']}")).json()
    assert detail["subject"] == SUBJECT
    assert "直ちに避難してください" in detail["text"]
    assert "<strong>避難指示</strong>" in detail["html"]
    assert ("Subject", SUBJECT) in [tuple(h) for h in detail["headers"]]

    raw = await mailbox.get(f"/api/messages/{summary['id']}/raw")
    assert raw.headers["content-type"].startswith("message/rfc822")
    assert b"Subject: =?utf-8?" in raw.content  # encoded on the wire (RFC 2047)

    page = await mailbox.get("/")
    assert SUBJECT in page.text
    assert SUBJECT in (await mailbox.get("/", params={"id": summary["id"]})).text

    assert (await mailbox.delete(f"/api/messages/{summary['id']}")).json() == {"deleted": 1}
    missing = await mailbox.get(f"/api/messages/{summary['id']}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert (await mailbox.delete("/api/messages")).json() == {"deleted": 1}
    assert sink.messages == []


async def test_configured_recipients_are_refused_with_their_code(sink: MailSink) -> None:
    sink.fail("bounce@example.jp", 550, "5.1.1 No such user")
    sink.fail("Busy@Example.jp", 451, "4.3.0 Try again later", times=1)

    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port) as smtp:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await smtp.send_message(_message("bounce@example.jp"))
        assert [(e.recipient, e.code) for e in refused.value.recipients] == [
            ("bounce@example.jp", 550)
        ]

        errors, _reply = await smtp.send_message(
            _message("busy@example.jp"), recipients=["busy@example.jp", "ok@example.jp"]
        )
        assert errors["busy@example.jp"].code == 451
        assert "Try again later" in errors["busy@example.jp"].message
        assert "ok@example.jp" not in errors

        # `times=1`: the transient refusal is spent, the retry is accepted.
        errors, _reply = await smtp.send_message(_message("busy@example.jp"))
        assert errors == {}

    received = await sink.wait_for(count=2)
    assert [m.rcpt_tos for m in received] == [("ok@example.jp",), ("busy@example.jp",)]
    assert sink.for_recipient("bounce@example.jp") == []
    assert sink.store.refused == [
        ("bounce@example.jp", 550),
        ("busy@example.jp", 451),
    ]


async def test_failures_can_be_configured_over_http(
    sink: MailSink, mailbox: httpx.AsyncClient
) -> None:
    created = await mailbox.post(
        "/api/failures", json={"address": "full@example.jp", "code": 452, "message": "Mailbox full"}
    )
    assert created.status_code == 201
    bad = await mailbox.post("/api/failures", json={"address": "x@example.jp", "code": 250})
    assert bad.status_code == 422
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await aiosmtplib.send(_message("full@example.jp"), hostname="127.0.0.1", port=sink.port)
    assert (await mailbox.delete("/api/failures")).json() == {"deleted": 1}
    await aiosmtplib.send(_message("full@example.jp"), hostname="127.0.0.1", port=sink.port)
    assert len(sink.messages) == 1


def test_the_sink_runs_on_its_own_thread_for_synchronous_callers() -> None:
    sink = MailSink("127.0.0.1", 0)
    sink.start()
    try:
        # No event loop here: the sink's own thread serves a caller that blocks on the send.
        asyncio.run(
            aiosmtplib.send(_message("sync@example.jp"), hostname="127.0.0.1", port=sink.port)
        )
        assert sink.for_recipient("sync@example.jp")[0].subject == SUBJECT
    finally:
        sink.stop()


def test_every_mailbox_route_is_declared_public() -> None:
    app = create_mailbox_app(MailSink("127.0.0.1", 0))
    assert len(api_routes(app)) >= 8
    assert undeclared_routes(app) == []


async def test_the_list_waits_for_a_matching_message(
    sink: MailSink, mailbox: httpx.AsyncClient
) -> None:
    await aiosmtplib.send(
        _message("taro@example.jp", "先の件"), hostname="127.0.0.1", port=sink.port
    )
    after = (await mailbox.get("/api/messages")).json()["messages"][0]["id"]
    params = {"to": "taro@example.jp", "subject": "避難指示", "after": after, "wait": 30}
    waiting = asyncio.create_task(mailbox.get("/api/messages", params=params))
    await aiosmtplib.send(_message("hanako@example.jp"), hostname="127.0.0.1", port=sink.port)
    await aiosmtplib.send(_message("taro@example.jp", "別件"), hostname="127.0.0.1", port=sink.port)
    assert not waiting.done()  # neither the other address nor the other subject ends the wait
    await aiosmtplib.send(_message("taro@example.jp"), hostname="127.0.0.1", port=sink.port)

    listing = (await waiting).json()
    assert [m["subject"] for m in listing["messages"]] == [SUBJECT]
    assert listing["messages"][0]["rcpt_tos"] == ["taro@example.jp"]


async def test_a_wait_ends_with_what_matched_when_its_time_is_up(
    sink: MailSink, mailbox: httpx.AsyncClient
) -> None:
    await aiosmtplib.send(_message("taro@example.jp"), hostname="127.0.0.1", port=sink.port)
    params: dict[str, str | float] = {"to": "taro@example.jp", "wait": 0.2, "count": 2}
    listing = (await mailbox.get("/api/messages", params=params)).json()
    assert listing["count"] == 1
    too_long = await mailbox.get("/api/messages", params={"wait": 61})
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "query.wait"
