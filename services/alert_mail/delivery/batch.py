"""What rendering a claimed batch needs, loaded in a handful of queries per batch (never per
recipient): the alerts, district names, each recipient's link version and state, and the
stored messages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.delivery.claim import Claimed
from services.alert_mail.models import Alert, District, OutgoingMessage, Subscription


@dataclass(frozen=True, slots=True)
class Recipient:
    link_version: int
    status: str
    hard_bounces: int


@dataclass(slots=True)
class BatchContext:
    alerts: dict[str, Alert] = field(default_factory=dict)
    district_names: dict[str, tuple[str, str]] = field(default_factory=dict)
    recipients: dict[str, Recipient] = field(default_factory=dict)
    messages: dict[str, OutgoingMessage] = field(default_factory=dict)


async def load_context(session: AsyncSession, claimed: Sequence[Claimed]) -> BatchContext:
    context = BatchContext()
    connection = await session.connection()
    alert_ids = {c.alert_id for c in claimed if c.alert_id}
    message_ids = {c.message_id for c in claimed if c.message_id}
    subscription_ids = {c.subscription_id for c in claimed if c.subscription_id}
    if alert_ids:
        alerts = await session.exec(select(Alert).where(col(Alert.id).in_(alert_ids)))
        context.alerts = {a.id: a for a in alerts}
        d = District.__table__.c  # type: ignore[attr-defined]
        districts = await connection.execute(sqlalchemy.select(d.code, d.name_ja, d.name_en))
        context.district_names = {code: (ja, en) for code, ja, en in districts.all()}
    if subscription_ids:
        s = Subscription.__table__.c  # type: ignore[attr-defined]
        rows = await connection.execute(
            sqlalchemy.select(s.id, s.link_version, s.status, s.hard_bounces).where(
                s.id.in_(subscription_ids)
            )
        )
        context.recipients = {sid: Recipient(v, st, hb) for sid, v, st, hb in rows.all()}
    if message_ids:
        messages = await session.exec(
            select(OutgoingMessage).where(col(OutgoingMessage.id).in_(message_ids))
        )
        context.messages = {m.id: m for m in messages}
    return context
