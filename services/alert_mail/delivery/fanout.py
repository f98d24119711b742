"""Fan-out: one delivery row per matching recipient, created by a single INSERT ... SELECT in
the publishing transaction (64,000 rows without a Python loop).

A subscription matches when it is active, chose the alert's category, and either chose no
district (市内全域), or chose one of the alert's districts, or the alert is city-wide."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, exists, func, insert, literal, or_, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.delivery.enqueue import PRIORITY_ALERT, PRIORITY_EMERGENCY
from services.alert_mail.domain.subscription_rules import SubscriptionState
from services.alert_mail.models import (
    Alert,
    Delivery,
    Subscription,
    SubscriptionCategory,
    SubscriptionDistrict,
)


def alert_priority(alert: Alert) -> int:
    return PRIORITY_EMERGENCY if alert.emergency or alert.severity == "Extreme" else PRIORITY_ALERT


async def fan_out(session: AsyncSession, alert: Alert, now: datetime) -> int:
    """Creates the alert's deliveries (idempotent: a second call adds none); returns how many
    recipients the alert has in all."""
    s = Subscription.__table__.c  # type: ignore[attr-defined]
    chose_category = exists().where(
        col(SubscriptionCategory.subscription_id) == s.id,
        col(SubscriptionCategory.category) == alert.category,
    )
    chose_no_district = ~exists().where(col(SubscriptionDistrict.subscription_id) == s.id)
    district_filter = [chose_no_district]
    if alert.districts:
        district_filter.append(
            exists().where(
                col(SubscriptionDistrict.subscription_id) == s.id,
                col(SubscriptionDistrict.district).in_(alert.districts),
            )
        )
    already = exists().where(
        col(Delivery.alert_id) == alert.id, col(Delivery.subscription_id) == s.id
    )
    where = [s.status == SubscriptionState.ACTIVE.value, chose_category, ~already]
    if alert.districts:
        where.append(or_(*district_filter))
    language = case(
        (and_(s.plain_japanese, s.language == "ja"), literal("ja-plain")), else_=s.language
    )
    rows = select(
        literal("alert"),
        literal(alert.id),
        s.id,
        s.email,
        language,
        literal(alert_priority(alert)),
        literal("created"),
        literal(0),
        literal(now, type_=Delivery.__table__.c.next_attempt_at.type),  # type: ignore[attr-defined]
        literal(now, type_=Delivery.__table__.c.created_at.type),  # type: ignore[attr-defined]
        literal(now, type_=Delivery.__table__.c.updated_at.type),  # type: ignore[attr-defined]
    ).where(*where)
    target = Delivery.__table__  # type: ignore[attr-defined]
    statement = insert(target).from_select(
        [
            "kind",
            "alert_id",
            "subscription_id",
            "email",
            "language",
            "priority",
            "status",
            "attempts",
            "next_attempt_at",
            "created_at",
            "updated_at",
        ],
        rows,
    )
    await session.exec(statement)
    total = await session.exec(
        select(func.count()).select_from(target).where(target.c.alert_id == alert.id)  # type: ignore[call-overload]
    )
    return int(total.one()[0])
