"""Queue one rendered mail (confirmation link, notification, call-up) for the sending workers,
in the caller's transaction: if the transaction rolls back, nothing is sent."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.models import Delivery, OutgoingMessage
from services.kit.ids import new_id

PRIORITY_EMERGENCY = 0
PRIORITY_ALERT = 1
PRIORITY_NOTICE = 2


async def enqueue_message(
    session: AsyncSession,
    *,
    to: str,
    subject: str,
    text: str,
    kind: str,
    now: datetime,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
    language: str = "ja",
    priority: int = PRIORITY_NOTICE,
) -> Delivery:
    message = OutgoingMessage(
        id=new_id("msg"),
        kind=kind,
        subject=subject,
        text=text,
        html=html,
        headers=dict(headers or {}),
        created_at=now,
    )
    delivery = Delivery(
        kind="message",
        message_id=message.id,
        email=to,
        language=language,
        priority=priority,
        status="created",
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(message)
    await session.flush()
    session.add(delivery)
    await session.flush()
    return delivery
