"""Double opt-in subscriptions through the API, with the confirmation mail read from a real
SMTP sink and its link followed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func
from sqlmodel import col, select

from services.alert_mail.models import OutgoingMessage, Subscription
from tests.unit.alert_mail.conftest import BROWSER, AlertMail
from tests.unit.alert_mail.subscription_support import (
    confirmation_token,
    reach,
    sign_up,
    subscribe_confirmed,
    subscription,
)


async def test_nothing_is_active_until_the_mailed_link_is_confirmed(alert_mail: AlertMail) -> None:
    await sign_up(alert_mail, "hanako@example.jp", districts=["chuo"], language="ja")
    token = await confirmation_token(alert_mail, "hanako@example.jp")
    assert await subscription(alert_mail, "hanako@example.jp") is None
    assert await reach(alert_mail, districts=["chuo"]) == 0

    page = await alert_mail.client.get("/v1/subscriptions/confirm", params={"token": token})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="ja">' in page.text
    assert 'method="post" action="/v1/subscriptions/confirm"' in page.text
    assert "災害情報" in page.text
    assert "中央" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert await subscription(alert_mail, "hanako@example.jp") is None  # GET changed nothing

    done = await alert_mail.client.post("/v1/subscriptions/confirm", data={"token": token})
    assert done.status_code == 200
    assert "登録が完了しました" in done.text
    assert "/v1/subscriptions/manage?token=" in done.text
    stored = await subscription(alert_mail, "hanako@example.jp")
    assert stored is not None
    assert stored.status == "active"
    assert stored.confirmed_at is not None
    assert await reach(alert_mail, districts=["chuo"]) == 1
    assert await reach(alert_mail, districts=["hokubu"]) == 0
    assert await reach(alert_mail, category="weather") == 0


async def test_confirmation_mail_is_in_the_chosen_language(alert_mail: AlertMail) -> None:
    expected = {
        "en": ("Please confirm your subscription", "Disaster information"),
        "zh": ("请确认您的订阅", "灾害情报"),
        "ko": ("구독을 확인해 주세요", "Disaster information"),
        "ja": ("登録確認のお願い", "災害情報"),
    }
    for language in expected:
        await sign_up(alert_mail, f"{language}@example.jp", language=language)
    for language, (subject, category) in expected.items():
        [mail] = await alert_mail.sink.wait_for(to=f"{language}@example.jp")
        assert subject in mail.subject
        assert mail.header("Auto-Submitted") == "auto-generated"
        if language != "zh":
            assert category in (mail.text or "")
    [zh] = alert_mail.sink.for_recipient("zh@example.jp")
    assert "災害情報" in (zh.text or "")  # kanji names for Chinese readers


async def test_the_answer_is_the_same_for_unknown_active_and_suspended_addresses(
    alert_mail: AlertMail,
) -> None:
    await subscribe_confirmed(alert_mail, "active@example.jp")
    await subscribe_confirmed(alert_mail, "bounced@example.jp")
    async with alert_mail.runtime.db.session() as session:
        rows = await session.exec(
            select(Subscription).where(col(Subscription.email) == "bounced@example.jp")
        )
        bounced = rows.one()
        bounced.status = "suspended"
        bounced.hard_bounces = 3
        session.add(bounced)

    answers = []
    for email in ("nobody@example.jp", "active@example.jp", "bounced@example.jp"):
        response = await alert_mail.client.post(
            "/v1/subscriptions", json={"email": email, "categories": ["weather"]}
        )
        answers.append((response.status_code, response.content))
    assert answers[0][0] == 202
    assert answers[0] == answers[1] == answers[2]

    token = await confirmation_token(alert_mail, "bounced@example.jp", count=2)
    response = await alert_mail.client.post("/v1/subscriptions/confirm", json={"token": token})
    assert response.status_code == 200
    assert response.json()["status"] == "active"
    assert response.json()["categories"] == ["weather"]  # replaced, not added
    again = await subscription(alert_mail, "bounced@example.jp")
    assert again is not None
    assert again.hard_bounces == 0


async def test_an_expired_confirmation_link_is_refused(alert_mail: AlertMail) -> None:
    await sign_up(alert_mail, "late@example.jp")
    token = await confirmation_token(alert_mail, "late@example.jp")
    await alert_mail.advance(timedelta(hours=alert_mail.settings.confirmation_ttl_hours, minutes=1))

    response = await alert_mail.client.post("/v1/subscriptions/confirm", json={"token": token})
    assert response.status_code == 410
    problem = response.json()
    assert problem["type"] == "/problems/link-expired"
    assert problem["errors"][0]["field"] == "token"
    page = await alert_mail.client.post(
        "/v1/subscriptions/confirm", data={"token": token}, headers=BROWSER
    )
    assert page.status_code == 410
    assert "有効期限が切れています" in page.text
    form_by_a_script = await alert_mail.client.post(
        "/v1/subscriptions/confirm", data={"token": token}
    )
    assert form_by_a_script.status_code == 410
    assert form_by_a_script.json()["type"] == "/problems/link-expired"
    opened = await alert_mail.client.get(
        "/v1/subscriptions/confirm", params={"token": token}, headers=BROWSER
    )
    assert opened.status_code == 410
    assert "有効期限" in opened.text
    fetched = await alert_mail.client.get("/v1/subscriptions/confirm", params={"token": token})
    assert fetched.status_code == 410
    assert fetched.headers["content-type"] == "application/problem+json"
    assert await subscription(alert_mail, "late@example.jp") is None


async def test_a_forged_or_foreign_token_is_refused(alert_mail: AlertMail) -> None:
    await sign_up(alert_mail, "real@example.jp")
    token = await confirmation_token(alert_mail, "real@example.jp")
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[::-1]}"
    for bad in (forged, "not-a-token"):
        response = await alert_mail.client.post("/v1/subscriptions/confirm", json={"token": bad})
        assert response.status_code == 422
        assert response.json()["type"] == "/problems/invalid-link"
        assert response.json()["errors"][0]["field"] == "token"


async def test_confirming_twice_is_harmless_and_does_not_undo_later_changes(
    alert_mail: AlertMail,
) -> None:
    await sign_up(alert_mail, "twice@example.jp")
    token = await confirmation_token(alert_mail, "twice@example.jp")
    first = await alert_mail.client.post("/v1/subscriptions/confirm", json={"token": token})
    manage_url = first.json()["manage_url"]
    manage_token = manage_url.split("token=")[1]
    changed = await alert_mail.client.patch(
        "/v1/subscriptions/by-token",
        params={"token": manage_token},
        json={"categories": ["weather", "disaster"]},
    )
    assert changed.json()["categories"] == ["disaster", "weather"]
    second = await alert_mail.client.post("/v1/subscriptions/confirm", json={"token": token})
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["categories"] == ["disaster", "weather"]


async def test_confirmation_mails_are_throttled_per_address(alert_mail: AlertMail) -> None:
    answers = set()
    for email in ("bomb@example.jp", "bomb@EXAMPLE.jp", "Bomb@example.jp", "bomb@example.jp"):
        response = await alert_mail.client.post(
            "/v1/subscriptions", json={"email": email, "categories": ["disaster"]}
        )
        answers.add((response.status_code, response.content))
    assert len(answers) == 1
    assert next(iter(answers))[0] == 202

    async def queued() -> int:
        async with alert_mail.runtime.db.session(write=False) as session:
            rows = await session.exec(
                select(func.count())
                .select_from(OutgoingMessage)
                .where(col(OutgoingMessage.kind) == "confirmation")
            )
            return int(rows.one())

    assert await queued() == alert_mail.settings.confirmation_mails_per_hour == 3
    await alert_mail.advance(timedelta(minutes=61))
    await sign_up(alert_mail, "bomb@example.jp")
    assert await queued() == 4


async def test_idempotency_key_replays_without_a_second_mail(alert_mail: AlertMail) -> None:
    body = {"email": "retry@example.jp", "categories": ["disaster"]}
    headers = {"Idempotency-Key": "signup-retry-1"}
    first = await alert_mail.client.post("/v1/subscriptions", json=body, headers=headers)
    again = await alert_mail.client.post("/v1/subscriptions", json=body, headers=headers)
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert first.content == again.content
    async with alert_mail.runtime.db.session(write=False) as session:
        rows = await session.exec(select(func.count()).select_from(OutgoingMessage))
        assert int(rows.one()) == 1


async def test_concurrent_sign_ups_for_one_address_still_send_at_most_the_limit(
    alert_mail: AlertMail,
) -> None:
    body = {"email": "burst@example.jp", "categories": ["disaster"]}
    responses = await asyncio.gather(
        *(alert_mail.client.post("/v1/subscriptions", json=body) for _ in range(8))
    )
    assert {r.status_code for r in responses} == {202}
    async with alert_mail.runtime.db.session(write=False) as session:
        rows = await session.exec(select(func.count()).select_from(OutgoingMessage))
        assert int(rows.one()) == alert_mail.settings.confirmation_mails_per_hour
