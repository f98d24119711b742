"""Fan-out creates exactly one delivery per matching, confirmed subscriber."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import col, select

from services.alert_mail.delivery.fanout import fan_out
from services.alert_mail.models import (
    Alert,
    Delivery,
    Subscription,
    SubscriptionCategory,
    SubscriptionDistrict,
)
from tests.unit.alert_mail.conftest import AlertMail

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def _subscription(
    n: int,
    *,
    status: str = "active",
    categories: tuple[str, ...] = ("disaster",),
    districts: tuple[str, ...] = (),
    language: str = "ja",
    plain: bool = False,
) -> list[object]:
    sub_id = f"sub_{n:04d}"
    rows: list[object] = [
        Subscription(
            id=sub_id,
            email=f"resident{n}@example.jp",
            status=status,
            language=language,
            plain_japanese=plain,
            created_at=NOW,
            updated_at=NOW,
        )
    ]
    rows += [SubscriptionCategory(subscription_id=sub_id, category=c) for c in categories]
    rows += [SubscriptionDistrict(subscription_id=sub_id, district=d) for d in districts]
    return rows


def _alert(districts: list[str]) -> Alert:
    return Alert(
        id="alt_test",
        status="sending",
        category="disaster",
        districts=districts,
        severity="Severe",
        urgency="Immediate",
        certainty="Observed",
        content={"ja": {"headline": "避難指示", "body": "本文"}},
        department="bosai",
        fingerprint="f" * 64,
        created_by="stf_a",
        created_at=NOW,
        updated_at=NOW,
        expires_at=NOW,
    )


async def test_fan_out_matches_category_and_district_and_confirmation(
    alert_mail: AlertMail,
) -> None:
    people = [
        _subscription(1),  # whole city
        _subscription(2, districts=("chuo",)),
        _subscription(3, districts=("hokubu",)),  # other district
        _subscription(4, categories=("weather",)),  # other category
        _subscription(5, status="pending"),  # not confirmed
        _subscription(6, status="suspended"),
        _subscription(7, districts=("chuo", "nanbu"), language="en"),
        _subscription(8, plain=True),
    ]
    async with alert_mail.runtime.db.session() as session:
        for rows in people:
            for row in rows[:1]:
                session.add(row)
            await session.flush()
            for row in rows[1:]:
                session.add(row)
        alert = _alert(["chuo", "nanbu"])
        session.add(alert)
        await session.flush()
        assert await fan_out(session, alert, NOW) == 4
        assert await fan_out(session, alert, NOW) == 4  # idempotent
    async with alert_mail.runtime.db.session(write=False) as session:
        made = (await session.exec(select(Delivery).order_by(col(Delivery.email)))).all()
    assert [(d.subscription_id, d.language, d.status) for d in made] == [
        ("sub_0001", "ja", "created"),
        ("sub_0002", "ja", "created"),
        ("sub_0007", "en", "created"),
        ("sub_0008", "ja-plain", "created"),
    ]
    assert all(d.next_attempt_at == NOW and d.priority == 1 for d in made)


async def test_city_wide_alert_reaches_every_district(alert_mail: AlertMail) -> None:
    async with alert_mail.runtime.db.session() as session:
        for rows in (_subscription(1, districts=("hokubu",)), _subscription(2)):
            session.add(rows[0])
            await session.flush()
            for row in rows[1:]:
                session.add(row)
        alert = _alert([])
        session.add(alert)
        await session.flush()
        assert await fan_out(session, alert, NOW) == 2
