"""Reading an alert's delivery progress and its deliveries (staff of the alert's department)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.domain.delivery_status import PENDING, STATUSES, DeliveryState, reach_rate
from services.alert_mail.models import Alert, Delivery
from services.alert_mail.schemas.deliveries import (
    AlertProgress,
    DeliveryList,
    DeliveryRead,
    delivery_public_id,
)
from services.kit.pagination import keyset_page


async def progress(session: AsyncSession, alert: Alert) -> AlertProgress:
    rows = await session.exec(
        select(Delivery.status, func.count())
        .where(col(Delivery.alert_id) == alert.id)
        .group_by(col(Delivery.status))
    )
    found: dict[str, int] = {status: count for status, count in rows.all()}
    counts: dict[DeliveryState, int] = {status: found.get(status, 0) for status in STATUSES}
    first, last = (
        await session.exec(
            select(func.min(Delivery.delivered_at), func.max(Delivery.delivered_at)).where(
                col(Delivery.alert_id) == alert.id, col(Delivery.status) == DeliveryState.DELIVERED
            )
        )
    ).one()
    total = sum(counts.values())
    delivered = counts[DeliveryState.DELIVERED]
    return AlertProgress(
        alert_id=alert.id,
        alert_status=alert.status,
        total=total,
        counts=counts,
        delivered=delivered,
        pending=sum(counts[s] for s in PENDING),
        failed=counts[DeliveryState.PERMANENT_FAILURE] + counts[DeliveryState.TECHNICAL_FAILURE],
        retries_scheduled=counts[DeliveryState.TEMPORARY_FAILURE],
        cancelled=counts[DeliveryState.CANCELLED],
        superseded=counts[DeliveryState.SUPERSEDED],
        reach_rate=reach_rate(delivered, total),
        first_delivered_at=_aware(first),
        last_delivered_at=_aware(last),
    )


def _aware(value: Any) -> Any:
    """Aggregates bypass the column type on SQLite: give them their UTC offset back."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def read(delivery: Delivery) -> DeliveryRead:
    assert delivery.id is not None
    pending = delivery.status in PENDING
    return DeliveryRead(
        id=delivery_public_id(delivery.id),
        alert_id=delivery.alert_id,
        subscription_id=delivery.subscription_id,
        email=delivery.email,
        language=delivery.language,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if pending else None,
        last_code=delivery.last_code,
        last_detail=delivery.last_detail,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        delivered_at=delivery.delivered_at,
    )


async def list_deliveries(
    session: AsyncSession,
    alert: Alert,
    *,
    status: DeliveryState | None,
    email: str | None,
    limit: int,
    cursor: str | None,
) -> DeliveryList:
    query = select(Delivery).where(col(Delivery.alert_id) == alert.id)
    if status is not None:
        query = query.where(col(Delivery.status) == status)
    if email is not None:
        query = query.where(func.lower(col(Delivery.email)) == email.strip().lower())
    rows, next_cursor = await keyset_page(
        session, query, col(Delivery.id), limit=limit, cursor=cursor
    )
    return DeliveryList(items=[read(d) for d in rows], next_cursor=next_cursor)


def filters_for_audit(**filters: Any) -> Mapping[str, Any]:
    return {name: value for name, value in filters.items() if value is not None}
