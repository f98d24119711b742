"""A member's answer to a call-up: the personal reply link, the page it opens and the
recorded replies (later answers replace earlier ones)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.callups_service import audit_event, group_names, latest_reply
from services.alert_mail.domain import callup_mail
from services.alert_mail.domain.callup_lifecycle import CALLUPS, CallupTransition
from services.alert_mail.domain.callup_pages import ReplyPageView, ShownReply
from services.alert_mail.domain.callup_replies import ReplyStatus, check_reply
from services.alert_mail.domain.callup_summary import (
    expected_arrival,
)
from services.alert_mail.domain.links import read_personal_token
from services.alert_mail.models import (
    Callup,
    CallupRecipient,
    CallupReply,
)
from services.alert_mail.schemas.callups import (
    CallupReplyRead,
)
from services.alert_mail.settings import Settings
from services.kit.errors import NotFound


class ReplyLinkInvalid(NotFound):
    slug = "reply-link-invalid"
    title = "This reply link is not valid"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, errors=[{"field": "token", "message": detail}])


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    callup: Callup
    recipient: CallupRecipient
    group_name: str


async def resolve_reply_token(
    session: AsyncSession, settings: Settings, token: str, *, for_update: bool = False
) -> ReplyTarget:
    """The recipient a reply link names; ReplyLinkInvalid (404) when forged or superseded."""
    read = read_personal_token(
        settings.link_secret.get_secret_value(), callup_mail.REPLY_PURPOSE, token
    )
    if read is None:
        raise ReplyLinkInvalid("the reply link is not valid")
    recipient_id, version = read
    recipient = await session.get(CallupRecipient, recipient_id)
    if recipient is None or recipient.token_version != version:
        raise ReplyLinkInvalid("the reply link is no longer valid")
    query = select(Callup).where(col(Callup.id) == recipient.callup_id)
    if for_update:
        query = query.with_for_update()
    callup = (await session.exec(query)).one()
    names = await group_names(session, {callup.group_id})
    return ReplyTarget(callup, recipient, names.get(callup.group_id, ""))


def shown_reply(reply: CallupReply) -> ShownReply:
    return ShownReply(
        status=ReplyStatus(reply.status),
        arrival_minutes=reply.arrival_minutes,
        comment=reply.comment,
        replied_at=reply.replied_at,
    )


async def reply_page_view(session: AsyncSession, target: ReplyTarget, token: str) -> ReplyPageView:
    latest = await session.exec(
        select(CallupReply)
        .where(col(CallupReply.recipient_id) == target.recipient.id)
        .order_by(col(CallupReply.id).desc())
        .limit(1)
    )
    reply = latest.first()
    return ReplyPageView(
        token=token,
        recipient_name=target.recipient.name,
        group_name=target.group_name,
        title=target.callup.title,
        message=target.callup.message,
        sent_at=target.callup.created_at,
        closed_at=target.callup.closed_at,
        latest=shown_reply(reply) if reply is not None else None,
    )


async def record_reply(
    session: AsyncSession,
    target: ReplyTarget,
    *,
    status: ReplyStatus,
    arrival_minutes: int | None,
    comment: str | None,
    channel: str,
    now: datetime,
) -> CallupReply:
    """Appends the answer; a closed call-up refuses it (409 naming the state)."""
    CALLUPS.require(target.callup.status, CallupTransition.REPLY)
    check_reply(status, arrival_minutes)
    reply = CallupReply(
        callup_id=target.callup.id,
        recipient_id=target.recipient.id,
        status=status.value,
        arrival_minutes=arrival_minutes,
        comment=comment or None,
        channel=channel,
        replied_at=now,
    )
    session.add(reply)
    await session.flush()
    # The member acts through their personal link, not a login: the actor is the link holder.
    await audit_event(
        session,
        None,
        "callup.replied",
        target.callup.id,
        now,
        {"recipient_id": target.recipient.id, "reply_id": reply.id},
    )
    return reply


def reply_read(reply: CallupReply) -> CallupReplyRead:
    return CallupReplyRead(
        callup_id=reply.callup_id,
        recipient_id=reply.recipient_id,
        status=ReplyStatus(reply.status),
        arrival_minutes=reply.arrival_minutes,
        expected_arrival_at=expected_arrival(latest_reply(reply)),
        comment=reply.comment,
        replied_at=reply.replied_at,
    )
