"""What the feeds read: sent alerts only (drafts and reviews never leave the city hall)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from services.alert_mail.alert_reads import SENT_STATUSES, get_sent
from services.alert_mail.feeds.atom import FeedInfo
from services.alert_mail.feeds.cap import CapSender, build_cap
from services.alert_mail.models import Alert, Category, District
from services.alert_mail.settings import Settings

FEED_LIMIT = 100


def cap_sender(settings: Settings) -> CapSender:
    return CapSender.from_mail_from(
        settings.mail_from, name_ja=settings.city_name_ja, name_en=settings.city_name_en
    )


def feed_info(settings: Settings) -> FeedInfo:
    base = f"{settings.public_url}/v1/feeds"
    return FeedInfo(
        feed_url=f"{base}/alerts.atom",
        cap_url=f"{base}/cap/{{id}}.xml",
        authority=settings.mail_domain,
        city_ja=settings.city_name_ja,
        city_en=settings.city_name_en,
    )


def sent_alerts() -> SelectOfScalar[Alert]:
    return select(Alert).where(col(Alert.status).in_(SENT_STATUSES))


def in_category(query: SelectOfScalar[Alert], category: str | None) -> SelectOfScalar[Alert]:
    if category is not None:
        query = query.where(col(Alert.category) == category)
    return query


def in_district(alert: Alert, district: str | None) -> bool:
    """A city-wide alert (no districts) reaches every district."""
    return district is None or not alert.districts or district in alert.districts


async def cap_document(session: AsyncSession, settings: Settings, alert_id: str) -> bytes:
    alert = await get_sent(session, alert_id)
    category = await session.get(Category, alert.category)
    if category is None:
        raise LookupError(f"category {alert.category} of {alert.id} is missing")
    query = (
        select(District)
        .where(col(District.code).in_(list(alert.districts)))
        .order_by(col(District.position), col(District.code))
    )
    districts = list((await session.exec(query)).all()) if alert.districts else []
    referenced = (
        await session.get(Alert, alert.references_id) if alert.references_id is not None else None
    )
    return build_cap(
        alert,
        sender=cap_sender(settings),
        category=category,
        districts=districts,
        referenced=referenced,
    )


async def current_alerts(
    session: AsyncSession, now: datetime, *, category: str | None, district: str | None
) -> list[Alert]:
    """Sent, not expired, neither cancelled nor replaced by an Update; newest first."""
    query = in_category(sent_alerts(), category).where(
        col(Alert.expires_at) > now,
        col(Alert.cancelled_at).is_(None),
        col(Alert.superseded_by).is_(None),
    )
    query = query.order_by(col(Alert.sent_at).desc(), col(Alert.id).desc()).limit(FEED_LIMIT)
    return [a for a in (await session.exec(query)).all() if in_district(a, district)]


async def categories_by_code(session: AsyncSession) -> dict[str, Category]:
    return {c.code: c for c in (await session.exec(select(Category))).all()}


async def sent_since(session: AsyncSession, since: datetime | None) -> Sequence[Alert]:
    """Alerts sent at or after `since` (all of them when None), oldest first."""
    query = sent_alerts()
    if since is not None:
        query = query.where(col(Alert.sent_at) >= since)
    return (await session.exec(query.order_by(col(Alert.sent_at), col(Alert.id)))).all()


async def latest_sent_at(session: AsyncSession) -> datetime | None:
    query = sent_alerts().order_by(col(Alert.sent_at).desc()).limit(1)
    latest = (await session.exec(query)).first()
    return latest.sent_at if latest is not None else None


async def sent_after_event(
    session: AsyncSession,
    last_event_id: str,
    *,
    category: str | None,
    district: str | None,
    limit: int,
) -> list[Alert]:
    """What a stream client missed since the alert it saw last (`Last-Event-ID`), oldest first;
    nothing when the id is unknown."""
    seen = await session.get(Alert, last_event_id)
    if seen is None or seen.sent_at is None:
        return []
    query = in_category(sent_alerts(), category).where(
        or_(
            col(Alert.sent_at) > seen.sent_at,
            and_(col(Alert.sent_at) == seen.sent_at, col(Alert.id) > seen.id),
        )
    )
    query = query.order_by(col(Alert.sent_at), col(Alert.id)).limit(limit)
    return [a for a in (await session.exec(query)).all() if in_district(a, district)]
