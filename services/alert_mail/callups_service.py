"""Staff call-up (職員参集): sending a call-up, who may read it, recipients and summaries.

Plain functions over a session (no FastAPI): routes parse and authorize, then call these.
Every staff action and every staff read of members' personal data writes an audit event in
the caller's transaction. Groups are in `staff_groups_service`, the members' replies in
`callup_replies_service`."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.delivery.enqueue import PRIORITY_EMERGENCY, enqueue_message
from services.alert_mail.domain import callup_mail
from services.alert_mail.domain.callup_access import CallupReaders, may_send, readers
from services.alert_mail.domain.callup_lifecycle import CALLUPS, CallupState, CallupTransition
from services.alert_mail.domain.callup_replies import ReplyStatus
from services.alert_mail.domain.callup_summary import (
    LatestReply,
    Person,
    expected_arrival,
    summarise,
)
from services.alert_mail.domain.links import personal_token
from services.alert_mail.models import (
    Alert,
    Callup,
    CallupRecipient,
    CallupReply,
    Delivery,
    StaffGroup,
    StaffGroupMember,
)
from services.alert_mail.schemas.callups import (
    ArrivalBucketRead,
    CallupCreate,
    CallupRead,
    CallupSummary,
    HourlyArrivalsRead,
    LatestReplyRead,
    PersonRead,
    RecipientRead,
)
from services.alert_mail.settings import Settings
from services.kit import audit
from services.kit.auth import Principal
from services.kit.errors import NotFound, UnprocessableContent
from services.kit.ids import new_id
from services.kit.pagination import keyset_page, keyset_rows

SERVICE = "alert_mail"


async def audit_event(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    target: str,
    now: datetime,
    changes: dict[str, Any] | None = None,
) -> None:
    await audit.record(session, actor, action, target, service=SERVICE, now=now, changes=changes)


# --- call-ups -------------------------------------------------------------------------------


def reply_token(settings: Settings, recipient: CallupRecipient) -> str:
    return personal_token(
        settings.link_secret.get_secret_value(),
        callup_mail.REPLY_PURPOSE,
        recipient.id,
        recipient.token_version,
    )


async def _mail_recipient(
    session: AsyncSession,
    settings: Settings,
    callup: Callup,
    recipient: CallupRecipient,
    group_name: str,
    now: datetime,
) -> None:
    url = callup_mail.reply_url(settings.public_url, reply_token(settings, recipient))
    mail = callup_mail.render(
        recipient_name=recipient.name,
        group_name=group_name,
        title=callup.title,
        message=callup.message,
        url=url,
        sent_at=now,
    )
    delivery = await enqueue_message(
        session,
        to=recipient.email,
        subject=mail.subject,
        text=mail.text,
        kind="callup",
        now=now,
        headers={"Importance": "high", "X-Priority": "1"},
        priority=PRIORITY_EMERGENCY,
    )
    recipient.delivery_id = delivery.id


async def create_callup(
    session: AsyncSession,
    settings: Settings,
    body: CallupCreate,
    *,
    actor: Principal,
    now: datetime,
) -> Callup:
    """One mail per member, queued in this transaction with the call-up itself."""
    group = await session.get(StaffGroup, body.group_id)
    if group is None or not may_send(actor.roles, actor.department, group.department):
        raise UnprocessableContent("no staff group you may call up has this id", field="group_id")
    if body.alert_id is not None and await session.get(Alert, body.alert_id) is None:
        raise UnprocessableContent("no alert has this id", field="alert_id")
    members = (
        await session.exec(
            select(StaffGroupMember)
            .where(col(StaffGroupMember.group_id) == group.id)
            .order_by(col(StaffGroupMember.id))
        )
    ).all()
    if not members:
        raise UnprocessableContent("the group has no members to call up", field="group_id")
    callup = Callup(
        id=new_id("cal"),
        group_id=group.id,
        department=group.department,
        title=body.title,
        message=body.message,
        status=CallupState.OPEN.value,
        alert_id=body.alert_id,
        recipients=len(members),
        created_by=actor.sub,
        created_at=now,
    )
    session.add(callup)
    await session.flush()
    recipients = [
        CallupRecipient(
            id=new_id("rcp"),
            callup_id=callup.id,
            member_id=member.id,
            staff_sub=member.staff_sub,
            name=member.name,
            email=member.email,
        )
        for member in members
    ]
    session.add_all(recipients)
    await session.flush()
    for recipient in recipients:
        await _mail_recipient(session, settings, callup, recipient, group.name_ja, now)
    await session.flush()
    await audit_event(
        session,
        actor,
        "callup.created",
        callup.id,
        now,
        {"group_id": group.id, "recipients": len(members), "alert_id": body.alert_id},
    )
    return callup


def _readers(actor: Principal) -> CallupReaders:
    return readers(actor.roles, actor.department, actor.sub)


def _readable(who: CallupReaders) -> ColumnElement[bool] | None:
    """`who.allows` as a WHERE clause (None: every call-up)."""
    if who.everything:
        return None
    return or_(col(Callup.department) == who.department, col(Callup.created_by) == who.sub)


async def get_visible_callup(
    session: AsyncSession, callup_id: str, actor: Principal, *, for_update: bool = False
) -> Callup:
    query = select(Callup).where(col(Callup.id) == callup_id)
    if for_update:
        query = query.with_for_update()
    callup = (await session.exec(query)).first()
    if callup is None or not _readers(actor).allows(
        callup_department=callup.department, created_by=callup.created_by
    ):
        raise NotFound(f"no call-up {callup_id}")
    return callup


async def _replied_counts(session: AsyncSession, callup_ids: list[str]) -> dict[str, int]:
    if not callup_ids:
        return {}
    query = (
        select(CallupReply.callup_id, func.count(func.distinct(CallupReply.recipient_id)))
        .where(col(CallupReply.callup_id).in_(callup_ids))
        .group_by(col(CallupReply.callup_id))
    )
    return {callup_id: count for callup_id, count in (await session.exec(query)).all()}


async def group_names(session: AsyncSession, group_ids: set[str]) -> dict[str, str]:
    if not group_ids:
        return {}
    query = select(StaffGroup.id, StaffGroup.name_ja).where(col(StaffGroup.id).in_(group_ids))
    return {group_id: name for group_id, name in (await session.exec(query)).all()}


def _callup_read(callup: Callup, group_name: str, replied: int) -> CallupRead:
    return CallupRead(
        id=callup.id,
        group_id=callup.group_id,
        group_name=group_name,
        department=callup.department,
        title=callup.title,
        message=callup.message,
        status=CallupState(callup.status).value,
        alert_id=callup.alert_id,
        recipients=callup.recipients,
        replied=replied,
        created_by=callup.created_by,
        created_at=callup.created_at,
        closed_by=callup.closed_by,
        closed_at=callup.closed_at,
    )


async def callup_read(session: AsyncSession, callup: Callup) -> CallupRead:
    names = await group_names(session, {callup.group_id})
    replied = await _replied_counts(session, [callup.id])
    return _callup_read(callup, names.get(callup.group_id, ""), replied.get(callup.id, 0))


async def list_callups(
    session: AsyncSession,
    actor: Principal,
    *,
    status: str | None,
    group_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[CallupRead], str | None]:
    """Newest first; only the call-ups the actor may read."""
    query = select(Callup)
    if (readable := _readable(_readers(actor))) is not None:
        query = query.where(readable)
    if status is not None:
        query = query.where(col(Callup.status) == status)
    if group_id is not None:
        query = query.where(col(Callup.group_id) == group_id)
    rows, next_cursor = await keyset_page(
        session, query, col(Callup.id), limit=limit, cursor=cursor, descending=True
    )
    names = await group_names(session, {c.group_id for c in rows})
    replied = await _replied_counts(session, [c.id for c in rows])
    items = [_callup_read(c, names.get(c.group_id, ""), replied.get(c.id, 0)) for c in rows]
    return items, next_cursor


async def close_callup(
    session: AsyncSession, callup: Callup, *, actor: Principal, now: datetime
) -> Callup:
    before = callup.status
    callup.status = CALLUPS.apply(before, CallupTransition.CLOSE).value
    callup.closed_at = now
    callup.closed_by = actor.sub
    await session.flush()
    await audit_event(
        session,
        actor,
        "callup.closed",
        callup.id,
        now,
        {"status": {"old": before, "new": callup.status}},
    )
    return callup


async def record_view(
    session: AsyncSession, callup: Callup, *, actor: Principal, now: datetime, view: str
) -> None:
    """Staff reads of who answered what (health and whereabouts) are personal data."""
    await audit_event(session, actor, "callup.viewed", callup.id, now, {"view": view})


# --- replies and summaries ------------------------------------------------------------------


async def _latest_replies(session: AsyncSession, callup_id: str) -> dict[str, CallupReply]:
    newest = (
        select(func.max(CallupReply.id))
        .where(col(CallupReply.callup_id) == callup_id)
        .group_by(col(CallupReply.recipient_id))
    )
    query = select(CallupReply).where(col(CallupReply.id).in_(newest))
    return {r.recipient_id: r for r in (await session.exec(query)).all()}


async def _recipients(session: AsyncSession, callup_id: str) -> list[CallupRecipient]:
    query = (
        select(CallupRecipient)
        .where(col(CallupRecipient.callup_id) == callup_id)
        .order_by(col(CallupRecipient.id))
    )
    return list((await session.exec(query)).all())


def latest_reply(reply: CallupReply) -> LatestReply:
    return LatestReply(ReplyStatus(reply.status), reply.arrival_minutes, reply.replied_at)


async def summary(session: AsyncSession, callup: Callup) -> CallupSummary:
    recipients = await _recipients(session, callup.id)
    latest = await _latest_replies(session, callup.id)
    result = summarise(
        [Person(r.id, r.name) for r in recipients],
        {recipient_id: latest_reply(reply) for recipient_id, reply in latest.items()},
    )
    delivery_query = (
        select(Delivery.status, func.count())
        .join(CallupRecipient, col(CallupRecipient.delivery_id) == col(Delivery.id))
        .where(col(CallupRecipient.callup_id) == callup.id)
        .group_by(col(Delivery.status))
    )
    deliveries = dict(Counter(dict((await session.exec(delivery_query)).all())))
    return CallupSummary(
        callup_id=callup.id,
        status=CallupState(callup.status).value,
        recipients=result.recipients,
        replied=result.replied,
        not_replied_count=len(result.not_replied),
        by_status=result.by_status,
        coming=result.coming,
        arrival_buckets=[
            ArrivalBucketRead(
                label=b.label, min_minutes=b.min_minutes, max_minutes=b.max_minutes, count=b.count
            )
            for b in result.arrival_buckets
        ],
        expected_by_hour=[
            HourlyArrivalsRead(hour=h.hour, arriving=h.arriving, cumulative=h.cumulative)
            for h in result.expected_by_hour
        ],
        not_replied=[
            PersonRead(recipient_id=p.recipient_id, name=p.name) for p in result.not_replied
        ],
        delivery=deliveries,
    )


def _latest_read(reply: CallupReply) -> LatestReplyRead:
    return LatestReplyRead(
        status=ReplyStatus(reply.status),
        arrival_minutes=reply.arrival_minutes,
        expected_arrival_at=expected_arrival(latest_reply(reply)),
        comment=reply.comment,
        replied_at=reply.replied_at,
    )


async def list_recipients(
    session: AsyncSession, callup: Callup, *, limit: int, cursor: str | None
) -> tuple[list[RecipientRead], str | None]:
    query = (
        select(CallupRecipient, Delivery.status)
        .join(Delivery, col(Delivery.id) == col(CallupRecipient.delivery_id), isouter=True)
        .where(col(CallupRecipient.callup_id) == callup.id)
    )
    rows, next_cursor = await keyset_rows(
        session,
        query,
        col(CallupRecipient.id),
        limit=limit,
        cursor=cursor,
        position_of=lambda row: row[0].id,
    )
    latest = await _latest_replies(session, callup.id)
    items = [
        RecipientRead(
            id=recipient.id,
            member_id=recipient.member_id,
            name=recipient.name,
            email=recipient.email,
            staff_sub=recipient.staff_sub,
            delivery_status=delivery_status,
            latest_reply=_latest_read(latest[recipient.id]) if recipient.id in latest else None,
        )
        for recipient, delivery_status in rows
    ]
    return items, next_cursor


async def resend(
    session: AsyncSession,
    settings: Settings,
    callup: Callup,
    recipient_id: str,
    *,
    actor: Principal,
    now: datetime,
) -> CallupRecipient:
    """A fresh mail with a new link; the old link stops working (a forwarded or lost mail)."""
    CALLUPS.require(callup.status, CallupTransition.REPLY)  # only worth sending while answers count
    recipient = await session.get(CallupRecipient, recipient_id)
    if recipient is None or recipient.callup_id != callup.id:
        raise NotFound(f"no recipient {recipient_id} in this call-up")
    recipient.token_version += 1
    names = await group_names(session, {callup.group_id})
    await _mail_recipient(session, settings, callup, recipient, names.get(callup.group_id, ""), now)
    await session.flush()
    await audit_event(
        session, actor, "callup.link_resent", callup.id, now, {"recipient_id": recipient.id}
    )
    return recipient
