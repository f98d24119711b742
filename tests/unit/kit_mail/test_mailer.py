"""The kit mailer against a real SMTP server (the dev sink): delivery, Japanese text,
connection reuse, and 4xx/5xx answers classified as temporary / permanent failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from deploy.mailsink import MailSink
from services.kit.mailer import Mailer, address, build_message


@pytest.fixture
async def sink() -> AsyncIterator[MailSink]:
    async with MailSink(port=0) as sink:
        yield sink


def _message(to: str, subject: str = "【デモ市】避難指示のお知らせ") -> EmailMessage:
    return build_message(
        sender=address("デモ市役所", "no-reply@city.demo.example.jp"),
        to=to,
        subject=subject,
        text="中央地区に避難指示を発令しました。\n最寄りの避難所へ避難してください。",
        html="<p>中央地区に<strong>避難指示</strong>を発令しました。</p>",
        message_id="<alert-1.resident-1@city.demo.example.jp>",
    )


async def test_delivers_japanese_mail_intact(sink: MailSink) -> None:
    mailer = Mailer("127.0.0.1", sink.port)
    result = await mailer.send(_message("taro@example.jp"))
    await mailer.close()
    assert result.ok
    assert result.code == 250
    [stored] = sink.store.select(to="taro@example.jp")
    parsed = message_from_bytes(stored.raw, policy=policy.default)
    assert parsed["Subject"] == "【デモ市】避難指示のお知らせ"
    assert parsed["Message-ID"] == "<alert-1.resident-1@city.demo.example.jp>"
    body = parsed.get_body(preferencelist=("plain",))
    assert isinstance(body, EmailMessage)
    assert "避難指示を発令しました" in body.get_content()


async def test_classifies_temporary_and_permanent_refusals(sink: MailSink) -> None:
    sink.store.fail("busy@example.jp", 451, "4.3.0 try again later")
    sink.store.fail("gone@example.jp", 550, "5.1.1 no such user")
    mailer = Mailer("127.0.0.1", sink.port, pool_size=1)
    busy = await mailer.send(_message("busy@example.jp"))
    gone = await mailer.send(_message("gone@example.jp"))
    fine = await mailer.send(_message("fine@example.jp"))
    await mailer.close()
    assert (busy.outcome, busy.code) == ("temporary-failure", 451)
    assert (gone.outcome, gone.code) == ("permanent-failure", 550)
    assert fine.ok, "a refusal must not poison the pooled connection"
    assert [m.rcpt_tos for m in sink.store.select()] == [("fine@example.jp",)]


async def test_server_down_is_a_temporary_failure() -> None:
    async with MailSink(port=0) as sink:
        port = sink.port
    mailer = Mailer("127.0.0.1", port, timeout=2)
    result = await mailer.send(_message("taro@example.jp"))
    assert result.outcome == "temporary-failure"
    assert result.code is None


async def test_concurrent_sends_share_a_bounded_pool(sink: MailSink) -> None:
    mailer = Mailer("127.0.0.1", sink.port, pool_size=3)
    results = await asyncio.gather(*(mailer.send(_message(f"r{i}@example.jp")) for i in range(30)))
    await mailer.close()
    assert all(r.ok for r in results)
    assert len(sink.store) == 30
