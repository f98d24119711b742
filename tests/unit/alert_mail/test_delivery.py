"""Sending alerts: one mail per recipient in their language with their own links and the
RFC 8058 headers, and every status a delivery can reach against a real SMTP server."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlparse

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from sqlalchemy import text, update
from sqlmodel import col, select

from deploy.mailsink import MailSink, StoredMessage
from services.alert_mail import alerts_service
from services.alert_mail.delivery.claim import claim_batch, renew_lease
from services.alert_mail.delivery.enqueue import enqueue_message
from services.alert_mail.delivery.simulated import SIMULATOR_DOMAIN
from services.alert_mail.domain.links import read_personal_token
from services.alert_mail.models import Alert, Delivery, Subscription, SubscriptionEvent
from tests.support.holding_sink import holding_sink
from tests.support.progress import until_done
from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.callups_support import audit_events
from tests.unit.alert_mail.conftest import PUBLIC_URL, AlertMail
from tests.unit.alert_mail.delivery_support import (
    Person,
    Quiet,
    add_subscribers,
    by_email,
    deliveries,
    publish,
    quiet_service,
)

DOMAIN = "city.demo.example.jp"


@pytest.fixture
async def quiet(db_url: str, tokens: TokenFactory, sink: MailSink) -> AsyncIterator[Quiet]:
    async with quiet_service(db_url, tokens, sink) as service:
        yield service


def parsed(message: StoredMessage) -> EmailMessage:
    mail = message_from_bytes(message.raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def token_of(url: str) -> str:
    return parse_qs(urlparse(url).query)["token"][0]


async def test_one_mail_per_recipient_in_their_language_with_personal_links(
    quiet: Quiet,
) -> None:
    now = quiet.now()
    people = [
        Person("taro@example.jp", districts=("chuo",)),
        Person("anna@example.com", language="en", districts=("chuo", "nanbu")),
        Person("hana@example.jp", plain=True),
        Person("wang@example.cn", language="zh"),  # no Chinese text: Japanese
        Person("north@example.jp", districts=("hokubu",)),  # another district
        Person("weather@example.jp", categories=("weather",)),  # another category
    ]
    ids = await add_subscribers(quiet.db, people, now)
    alert = await publish(quiet.db, now)
    assert alert.recipients == 4

    assert await quiet.worker.run_once() == 4

    sink = quiet.sink
    assert sorted(m.rcpt_tos[0] for m in sink.messages) == [
        "anna@example.com",
        "hana@example.jp",
        "taro@example.jp",
        "wang@example.cn",
    ]
    secret = quiet.settings.link_secret.get_secret_value()
    for person, sub_id in zip(people[:4], ids, strict=False):
        [stored] = sink.for_recipient(person.email)
        mail = parsed(stored)
        assert mail["Message-ID"] == f"<{alert.id}.{sub_id}@{DOMAIN}>"
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert mail["Auto-Submitted"] == "auto-generated"
        assert mail["From"].addresses[0].addr_spec == "alert@city.demo.example.jp"
        assert mail["Date"].datetime.utcoffset() == timedelta(hours=9)
        unsubscribe = str(mail["List-Unsubscribe"])
        assert unsubscribe.startswith(f"<{PUBLIC_URL}/v1/subscriptions/unsubscribe?token=")
        token = token_of(unsubscribe.strip("<>"))
        assert read_personal_token(secret, "unsubscribe", token) == (sub_id, 0)
        body = mail.get_content()
        assert unsubscribe.strip("<>") in body
        manage = next(line for line in body.splitlines() if "/v1/subscriptions/manage" in line)
        manage_token = token_of(manage[manage.index("http") :])
        assert read_personal_token(secret, "manage", manage_token) == (sub_id, 0)
        assert "+09:00" in body

    taro = parsed(sink.for_recipient("taro@example.jp")[0])
    assert taro["Subject"] == "【デモ市 防災・防犯メール】中央地区に避難指示"
    assert "直ちに中央小学校へ避難してください。" in taro.get_content()
    assert "■ 対象地区：中央" in taro.get_content()
    anna = parsed(sink.for_recipient("anna@example.com")[0])
    assert anna["Subject"] == "[Demo City Safety Mail] Evacuation order for Chuo"
    assert "Go to Chuo Elementary School now." in anna.get_content()
    assert "Areas: Chuo" in anna.get_content()
    hana = parsed(sink.for_recipient("hana@example.jp")[0])
    assert "逃げて ください" in str(hana["Subject"])
    wang = parsed(sink.for_recipient("wang@example.cn")[0])
    assert wang["Subject"] == taro["Subject"]

    rows = await by_email(quiet.db)
    assert {d.status for d in rows.values()} == {"delivered"}
    assert all(d.attempts == 1 and d.delivered_at is not None for d in rows.values())
    assert rows["hana@example.jp"].language == "ja-plain"


async def test_a_4xx_is_retried_after_the_backoff_and_never_delays_the_others(
    quiet: Quiet,
) -> None:
    now = quiet.now()
    people = [Person(f"resident{n}@example.jp") for n in range(20)]
    await add_subscribers(quiet.db, [Person("busy@example.jp"), *people], now)
    await publish(quiet.db, now)
    quiet.sink.fail("busy@example.jp", 451, "4.3.0 mailbox busy, try later", times=1)

    await quiet.worker.run_once()

    first = await by_email(quiet.db)
    busy = first.pop("busy@example.jp")
    assert {d.status for d in first.values()} == {"delivered"}, "the others went out at once"
    assert (busy.status, busy.attempts, busy.last_code) == ("temporary-failure", 1, 451)
    assert busy.next_attempt_at == busy.updated_at + timedelta(seconds=30)
    assert await quiet.worker.run_once() == 0, "not due before the backoff"

    await quiet.advance(timedelta(seconds=31))
    assert await quiet.worker.run_once() == 1

    [retried] = await deliveries(quiet.db, email="busy@example.jp")
    assert (retried.status, retried.attempts, retried.last_code) == ("delivered", 2, 250)
    assert len(quiet.sink.for_recipient("busy@example.jp")) == 1


async def test_retries_exhausted_become_a_technical_failure(
    db_url: str, tokens: TokenFactory, sink: MailSink
) -> None:
    async with quiet_service(db_url, tokens, sink, max_attempts=2) as quiet:
        await add_subscribers(quiet.db, [Person("full@example.jp")], quiet.now())
        await publish(quiet.db, quiet.now())
        sink.fail("full@example.jp", 452, "4.2.2 mailbox full")

        await quiet.worker.run_once()
        await quiet.advance(timedelta(seconds=31))
        await quiet.worker.run_once()

        [delivery] = await deliveries(quiet.db)
        assert (delivery.status, delivery.attempts) == ("technical-failure", 2)
        assert "mailbox full" in (delivery.last_detail or "")
        await quiet.advance(timedelta(hours=2))
        assert await quiet.worker.run_once() == 0, "a final status is never claimed again"


async def test_hard_bounces_count_up_suspend_at_the_limit_and_reset_on_delivery(
    quiet: Quiet,
) -> None:
    now = quiet.now()
    people = [
        Person("gone@example.jp", hard_bounces=2),  # the third bounce in a row: suspended
        Person("typo@example.jp"),  # the first bounce
        Person("back@example.jp", hard_bounces=2),  # delivered again: reset
    ]
    gone, typo, back = await add_subscribers(quiet.db, people, now)
    await publish(quiet.db, now)
    quiet.sink.fail("gone@example.jp", 550, "5.1.1 no such user")
    quiet.sink.fail("typo@example.jp", 550, "5.1.1 no such user")

    await quiet.worker.run_once()

    stored = await by_email(quiet.db)
    assert stored["gone@example.jp"].status == "permanent-failure"
    assert stored["gone@example.jp"].last_code == 550
    assert stored["typo@example.jp"].status == "permanent-failure"
    assert stored["back@example.jp"].status == "delivered"
    async with quiet.db.session(write=False) as session:
        subs = {s.id: s for s in (await session.exec(select(Subscription))).all()}
    assert (subs[gone].status, subs[gone].hard_bounces) == ("suspended", 3)
    assert subs[gone].suspended_at is not None
    assert (subs[typo].status, subs[typo].hard_bounces) == ("active", 1)
    assert (subs[back].status, subs[back].hard_bounces) == ("active", 0)
    # the suspension is the lifecycle's `suspend`, with its history event like every other
    history = [e for e in await audit_events(quiet) if e["action"].startswith("subscription.")]
    assert [(e["action"], e["target"]) for e in history] == [("subscription.suspended", gone)]
    [suspension] = history
    assert suspension["changes"] == {
        "status": ["active", "suspended"],
        "transition": "suspend",
        "hard_bounces": 3,
    }
    assert (suspension["actor"], suspension["actor_kind"]) == (None, "system")
    async with quiet.db.session(write=False) as session:
        rows = (await session.exec(select(SubscriptionEvent))).all()
    assert [(r.subscription_id, r.transition, r.from_state, r.to_state, r.actor) for r in rows] == [
        (gone, "suspend", "active", "suspended", None)
    ]
    assert rows[0].note == "3 hard bounces in a row"


async def test_simulator_addresses_reach_their_status_without_sending(quiet: Quiet) -> None:
    now = quiet.now()
    people = [
        Person(f"{local}@{SIMULATOR_DOMAIN}") for local in ("delivered", "temp-fail", "perm-fail")
    ]
    await add_subscribers(quiet.db, people, now)
    await publish(quiet.db, now)

    await quiet.worker.run_once()

    stored = await by_email(quiet.db)
    assert {email.split("@")[0]: d.status for email, d in stored.items()} == {
        "delivered": "delivered",
        "temp-fail": "temporary-failure",
        "perm-fail": "permanent-failure",
    }
    assert quiet.sink.messages == []


async def test_an_address_unsubscribed_after_fan_out_gets_nothing(quiet: Quiet) -> None:
    now = quiet.now()
    [leaver, _stayer] = await add_subscribers(
        quiet.db, [Person("leaver@example.jp"), Person("stayer@example.jp")], now
    )
    await publish(quiet.db, now)
    async with quiet.db.session() as session:
        subscription = await session.get(Subscription, leaver)
        assert subscription is not None
        subscription.status = "unsubscribed"

    await quiet.worker.run_once()

    assert [m.rcpt_tos for m in quiet.sink.messages] == [("stayer@example.jp",)]
    stored = await by_email(quiet.db)
    assert stored["leaver@example.jp"].status == "permanent-failure"
    assert stored["leaver@example.jp"].last_code is None


async def test_a_dead_workers_batch_is_sent_again_once_its_lease_expires(quiet: Quiet) -> None:
    now = quiet.now()
    await add_subscribers(quiet.db, [Person(f"r{n}@example.jp") for n in range(3)], now)
    alert = await publish(quiet.db, now)
    async with quiet.db.session() as session:  # a worker that claims, then dies
        lost = await claim_batch(
            session,
            now=now,
            lease_until=now + timedelta(seconds=60),
            worker="dead-worker/1",
            limit=2,
            skip_locked=not quiet.db.is_sqlite,
        )
    assert len(lost) == 2

    assert await quiet.worker.run_once() == 1, "leased rows wait for their lease"
    await quiet.advance(timedelta(seconds=61))
    assert await quiet.worker.run_once() == 2

    stored = await deliveries(quiet.db)
    assert {d.status for d in stored} == {"delivered"}
    assert sorted(d.attempts for d in stored) == [1, 2, 2]
    async with quiet.db.session(write=False) as session:
        finished = await session.get(Alert, alert.id)
    assert finished is not None
    assert (finished.status, finished.completed_at is not None) == ("completed", True)


async def test_a_renewed_lease_keeps_its_rows_and_a_renewal_after_a_takeover_holds_none(
    quiet: Quiet,
) -> None:
    now = quiet.now()
    await add_subscribers(quiet.db, [Person(f"r{n}@example.jp") for n in range(3)], now)
    await publish(quiet.db, now)
    lease = timedelta(seconds=60)
    async with quiet.db.session() as session:  # a slow worker, still sending
        held = await claim_batch(
            session,
            now=now,
            lease_until=now + lease,
            worker="slow-worker/1",
            limit=2,
            skip_locked=not quiet.db.is_sqlite,
        )
    assert len(held) == 2

    await quiet.advance(timedelta(seconds=50))
    async with quiet.db.session() as session:
        renewed_at = quiet.now()
        renewed = await renew_lease(
            session, now=renewed_at, lease_until=renewed_at + lease, worker="slow-worker/1"
        )
    assert renewed == 2
    await quiet.advance(timedelta(seconds=20))  # past the first lease, inside the renewed one
    assert await quiet.worker.run_once() == 1, "renewed rows stay with their worker"

    await quiet.advance(timedelta(seconds=61))  # the slow worker died after all
    assert await quiet.worker.run_once() == 2
    async with quiet.db.session() as session:
        late = quiet.now()
        after_takeover = await renew_lease(
            session, now=late, lease_until=late + lease, worker="slow-worker/1"
        )
    assert after_takeover == 0, "a renewal after the takeover holds nothing"


async def test_a_worker_renews_the_lease_of_a_batch_it_is_still_sending(
    db_url: str, tokens: TokenFactory
) -> None:
    async with (
        holding_sink(2) as (sink, handler),
        quiet_service(
            db_url, tokens, sink, lease_seconds=5, worker_concurrency=1, smtp_pool_size=1
        ) as quiet,
    ):
        now = quiet.now()
        await add_subscribers(quiet.db, [Person(f"r{n}@example.jp") for n in range(4)], now)
        await publish(quiet.db, now)
        run = asyncio.create_task(quiet.worker.run_once())
        async with asyncio.timeout(120):  # a hang guard, not a measurement
            await handler.wait_held(1)  # the second mail's reply is held: mid-batch
            first = {d.id: d.lease_until for d in await deliveries(quiet.db, status="sending")}
            assert len(first) == 4
            while True:  # until the worker's own renewal (a third of the lease) moves it on
                leases = {d.id: d.lease_until for d in await deliveries(quiet.db)}
                if all(leases[i] is not None and leases[i] > first[i] for i in first):  # type: ignore[operator]
                    break
                await asyncio.sleep(0.05)
            handler.released.set()
            await run

        stored = await deliveries(quiet.db)
        assert {d.status for d in stored} == {"delivered"}
        assert [d.attempts for d in stored] == [1, 1, 1, 1], "one claim each, none re-claimed"
        assert sorted(m.rcpt_tos[0] for m in sink.messages) == sorted(d.email for d in stored)


async def test_background_workers_send_as_soon_as_the_alert_is_committed(
    alert_mail: AlertMail,
) -> None:
    db = alert_mail.runtime.db
    now = alert_mail.runtime.clock.now()
    await add_subscribers(db, [Person("quick@example.jp")], now)
    await publish(db, now)

    [message] = await alert_mail.sink.wait_for(to="quick@example.jp", within=10)

    assert "避難指示" in message.subject


async def test_stored_messages_are_sent_with_their_own_headers(quiet: Quiet) -> None:
    async with quiet.db.session() as session:
        queued = await enqueue_message(
            session,
            to="applicant@example.jp",
            subject="【デモ市】申請を受け付けました",
            text="受付番号 A-123 の申請を受け付けました。",
            html="<p>受付番号 <b>A-123</b> の申請を受け付けました。</p>",
            kind="notification",
            now=quiet.now(),
            headers={"Reply-To": "madoguchi@city.demo.example.jp", "X-Cityhall-Reference": "A-123"},
        )

    assert await quiet.worker.run_once() == 1

    [stored] = quiet.sink.for_recipient("applicant@example.jp")
    mail = parsed(stored)
    assert mail["Message-ID"] == f"<{queued.message_id}@{DOMAIN}>"
    assert mail["Subject"] == "【デモ市】申請を受け付けました"
    assert mail["Reply-To"] == "madoguchi@city.demo.example.jp"
    assert mail["X-Cityhall-Reference"] == "A-123"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert stored.text is not None
    assert "受付番号 A-123" in stored.text
    assert stored.html is not None
    assert "<b>A-123</b>" in stored.html
    [delivery] = await deliveries(quiet.db)
    assert (delivery.kind, delivery.status) == ("message", "delivered")


def rsa_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


def ed25519_key() -> tuple[str, str]:
    """dkimpy's ed25519 form (RFC 8463): the raw 32-byte seed and public key, base64."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(private).decode(), base64.b64encode(public).decode()


@pytest.mark.parametrize(("key_type", "make_key"), [("rsa", rsa_key), ("ed25519", ed25519_key)])
async def test_dkim_signatures_verify_and_cover_the_one_click_headers(
    db_url: str,
    tokens: TokenFactory,
    sink: MailSink,
    key_type: str,
    make_key: Callable[[], tuple[str, str]],
) -> None:
    private, public = make_key()
    dkim_settings = {
        "dkim_selector": "alert2026",
        "dkim_domain": "city.demo.example.jp",
        "dkim_private_key": private,
    }
    async with quiet_service(db_url, tokens, sink, **dkim_settings) as quiet:
        await add_subscribers(quiet.db, [Person("signed@example.jp")], quiet.now())
        await publish(quiet.db, quiet.now())
        await quiet.worker.run_once()

    [stored] = sink.for_recipient("signed@example.jp")
    looked_up: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        looked_up.append(name)
        return f"v=DKIM1; k={key_type}; p={public}".encode()

    assert dkim.verify(stored.raw, dnsfunc=dns)
    assert looked_up == [b"alert2026._domainkey.city.demo.example.jp."]
    assert f"a={key_type}-sha256".encode() in stored.raw.replace(b"\r\n ", b"").replace(b" ", b"")
    signature = parsed(stored)["DKIM-Signature"]
    signed = {h.strip().lower() for h in str(signature).split("h=")[1].split(";")[0].split(":")}
    assert {"from", "to", "subject", "date", "message-id"} <= signed
    assert {"list-unsubscribe", "list-unsubscribe-post"} <= signed
    tampered = stored.raw.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: nothing"
    )
    assert not dkim.verify(tampered, dnsfunc=dns)


async def test_two_workers_recording_an_alerts_last_mails_at_once_complete_it(
    quiet: Quiet,
) -> None:
    """Each worker's completion check ran before the other had committed, so each saw the
    other's last deliveries still `sending` and the alert stayed `sending` for good (seen on
    PostgreSQL in the crash test). The second check now waits for the first to commit."""
    now = quiet.now()
    await add_subscribers(quiet.db, [Person("a@example.jp"), Person("b@example.jp")], now)
    alert = await publish(quiet.db, now)
    ids = [d.id for d in await deliveries(quiet.db) if d.id is not None]
    assert len(ids) == 2
    async with quiet.db.session() as session:
        await session.exec(update(Delivery).values(status="sending"))

    async def record(delivery_id: int, session: Any) -> list[str]:
        await session.exec(
            update(Delivery).where(col(Delivery.id) == delivery_id).values(status="delivered")
        )
        return await alerts_service.complete_finished_alerts(session, now, alert_ids=[alert.id])

    async def waiting_on_a_lock() -> bool:
        if quiet.db.is_sqlite:
            return True  # its write session waits for ours: one writer per database
        async with quiet.db.session(write=False) as session:
            connection = await session.connection()
            found = await connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
            return bool(found.scalar_one())

    async with quiet.db.session() as first:
        assert await record(ids[0], first) == []  # the other delivery is still sending
        second = asyncio.create_task(_record_in_own_session(quiet, record, ids[1]))
        await until_done(
            lambda: second.done() or waiting_on_a_lock(),
            lambda: 0,
            what="the second recording reaching its completion check",
            stall=60,
        )
    assert await second == [alert.id]
    async with quiet.db.session(write=False) as session:
        stored = await session.get(Alert, alert.id)
    assert stored is not None
    assert stored.status == "completed"


async def _record_in_own_session(
    quiet: Quiet, record: Callable[[int, Any], Awaitable[list[str]]], delivery_id: int
) -> list[str]:
    async with quiet.db.session() as session:
        return await record(delivery_id, session)
