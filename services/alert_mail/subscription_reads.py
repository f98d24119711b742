"""Reading subscriptions: the owner's list and one subscription with its choices, and the
counts staff see."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.domain.subscription_rules import SubscriptionState
from services.alert_mail.models import (
    Category,
    District,
    Subscription,
    SubscriptionCategory,
    SubscriptionDistrict,
    SubscriptionEvent,
)
from services.alert_mail.schemas.subscriptions import SubscriptionCounts, SubscriptionRead
from services.kit.errors import NotFound
from services.kit.pagination import keyset_page


async def choices_of(
    session: AsyncSession, subscription_ids: Sequence[str]
) -> dict[str, tuple[list[str], list[str]]]:
    """Category and district codes of each subscription, in the reference lists' order."""
    found: dict[str, tuple[list[str], list[str]]] = {i: ([], []) for i in subscription_ids}
    if not subscription_ids:
        return found
    categories = await session.exec(
        select(SubscriptionCategory.subscription_id, SubscriptionCategory.category)
        .join(Category, col(Category.code) == col(SubscriptionCategory.category))
        .where(col(SubscriptionCategory.subscription_id).in_(subscription_ids))
        .order_by(col(Category.position), col(Category.code))
    )
    for subscription_id, code in categories.all():
        found[subscription_id][0].append(code)
    districts = await session.exec(
        select(SubscriptionDistrict.subscription_id, SubscriptionDistrict.district)
        .join(District, col(District.code) == col(SubscriptionDistrict.district))
        .where(col(SubscriptionDistrict.subscription_id).in_(subscription_ids))
        .order_by(col(District.position), col(District.code))
    )
    for subscription_id, code in districts.all():
        found[subscription_id][1].append(code)
    return found


async def read_many(
    session: AsyncSession, subscriptions: Sequence[Subscription]
) -> list[SubscriptionRead]:
    choices = await choices_of(session, [s.id for s in subscriptions])
    return [
        SubscriptionRead(
            id=s.id,
            email=s.email,
            status=s.status,
            categories=choices[s.id][0],
            districts=choices[s.id][1],
            language=s.language,
            plain_japanese=s.plain_japanese,
            created_at=s.created_at,
            updated_at=s.updated_at,
            confirmed_at=s.confirmed_at,
            unsubscribed_at=s.unsubscribed_at,
        )
        for s in subscriptions
    ]


async def read_one(session: AsyncSession, subscription: Subscription) -> SubscriptionRead:
    return (await read_many(session, [subscription]))[0]


async def list_owned(
    session: AsyncSession, owner: str, *, limit: int, cursor: str | None
) -> tuple[list[SubscriptionRead], str | None]:
    query = select(Subscription).where(col(Subscription.owner) == owner)
    rows, next_cursor = await keyset_page(
        session, query, col(Subscription.id), limit=limit, cursor=cursor
    )
    return await read_many(session, rows), next_cursor


async def get_owned(session: AsyncSession, owner: str, subscription_id: str) -> Subscription:
    """404 for another citizen's subscription, exactly as for a missing one."""
    subscription = await session.get(Subscription, subscription_id)
    if subscription is None or subscription.owner != owner:
        raise NotFound(f"no subscription {subscription_id}")
    return subscription


async def events(
    session: AsyncSession, subscription_id: str, *, limit: int, cursor: str | None
) -> tuple[list[SubscriptionEvent], str | None]:
    """The subscription's history, oldest first."""
    query = select(SubscriptionEvent).where(
        col(SubscriptionEvent.subscription_id) == subscription_id
    )
    return await keyset_page(session, query, col(SubscriptionEvent.id), limit=limit, cursor=cursor)


async def counts(session: AsyncSession) -> SubscriptionCounts:
    active = col(Subscription.status) == SubscriptionState.ACTIVE
    by_status = await session.exec(
        select(Subscription.status, func.count()).group_by(col(Subscription.status))
    )
    by_language = await session.exec(
        select(Subscription.language, func.count())
        .where(active)
        .group_by(col(Subscription.language))
    )
    by_category = await session.exec(
        select(SubscriptionCategory.category, func.count())
        .join(Subscription, col(Subscription.id) == col(SubscriptionCategory.subscription_id))
        .where(active)
        .group_by(col(SubscriptionCategory.category))
    )
    by_district = await session.exec(
        select(SubscriptionDistrict.district, func.count())
        .join(Subscription, col(Subscription.id) == col(SubscriptionDistrict.subscription_id))
        .where(active)
        .group_by(col(SubscriptionDistrict.district))
    )
    any_district = (
        select(SubscriptionDistrict.subscription_id)
        .where(col(SubscriptionDistrict.subscription_id) == col(Subscription.id))
        .exists()
    )
    city_wide = await session.exec(
        select(func.count()).select_from(Subscription).where(active, ~any_district)
    )
    statuses = {status: int(n) for status, n in by_status.all()}
    return SubscriptionCounts(
        total=sum(statuses.values()),
        by_status={s.value: statuses.get(s.value, 0) for s in SubscriptionState},
        by_category={code: int(n) for code, n in by_category.all()},
        by_district={code: int(n) for code, n in by_district.all()},
        city_wide=int(city_wide.one()),
        by_language={language: int(n) for language, n in by_language.all()},
    )
