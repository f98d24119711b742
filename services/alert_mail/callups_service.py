"""Staff call-up (職員参集): groups and their members, sending a call-up, replies, summaries.

Plain functions over a session (no FastAPI): routes parse and authorize, then call these.
Every staff action and every staff read of members' personal data writes an audit event in
the caller's transaction."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.delivery.enqueue import PRIORITY_EMERGENCY, enqueue_message
from services.alert_mail.domain import callup_mail
from services.alert_mail.domain.callup_access import may_read, may_send
from services.alert_mail.domain.callup_lifecycle import CALLUPS, CallupState, CallupTransition
from services.alert_mail.domain.callup_pages import ReplyPageView, ShownReply
from services.alert_mail.domain.callup_replies import ReplyStatus, check_reply
from services.alert_mail.domain.callup_summary import (
    LatestReply,
    Person,
    expected_arrival,
    summarise,
)
from services.alert_mail.domain.links import personal_token, read_personal_token
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
    CallupReplyRead,
    CallupSummary,
    HourlyArrivalsRead,
    LatestReplyRead,
    MemberCreate,
    MemberRead,
    PersonRead,
    RecipientRead,
    StaffGroupCreate,
    StaffGroupRead,
    StaffGroupUpdate,
)
from services.alert_mail.settings import Settings
from services.kit import audit
from services.kit.auth import Principal
from services.kit.errors import Conflict, NotFound, UnprocessableContent
from services.kit.ids import new_id
from services.kit.pagination import keyset_page, keyset_rows

SERVICE = "alert_mail"
MAX_MEMBERS = 1000  # a call-up group is a few dozen people; this only bounds mistakes


class ReplyLinkInvalid(NotFound):
    slug = "reply-link-invalid"
    title = "This reply link is not valid"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, errors=[{"field": "token", "message": detail}])


async def _audit(
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    target: str,
    now: datetime,
    changes: dict[str, Any] | None = None,
) -> None:
    await audit.record(session, actor, action, target, service=SERVICE, now=now, changes=changes)


# --- groups ---------------------------------------------------------------------------------


async def get_group(session: AsyncSession, group_id: str) -> StaffGroup:
    group = await session.get(StaffGroup, group_id)
    if group is None:
        raise NotFound(f"no staff group {group_id}")
    return group


async def _member_counts(session: AsyncSession, group_ids: list[str]) -> dict[str, int]:
    if not group_ids:
        return {}
    query = (
        select(StaffGroupMember.group_id, func.count())
        .where(col(StaffGroupMember.group_id).in_(group_ids))
        .group_by(col(StaffGroupMember.group_id))
    )
    return {group_id: count for group_id, count in (await session.exec(query)).all()}


def _group_read(group: StaffGroup, members: int) -> StaffGroupRead:
    return StaffGroupRead(
        id=group.id,
        code=group.code,
        name_ja=group.name_ja,
        department=group.department,
        members=members,
        created_at=group.created_at,
        updated_at=group.updated_at,
    )


async def group_read(session: AsyncSession, group: StaffGroup) -> StaffGroupRead:
    counts = await _member_counts(session, [group.id])
    return _group_read(group, counts.get(group.id, 0))


async def create_group(
    session: AsyncSession, body: StaffGroupCreate, *, actor: Principal, now: datetime
) -> StaffGroup:
    taken = await session.exec(select(StaffGroup.id).where(col(StaffGroup.code) == body.code))
    if taken.first() is not None:
        raise Conflict(
            f"a staff group with code {body.code!r} exists",
            errors=[{"field": "code", "message": "already in use"}],
        )
    group = StaffGroup(
        id=new_id("grp"),
        code=body.code,
        name_ja=body.name_ja,
        department=body.department,
        created_at=now,
        updated_at=now,
    )
    session.add(group)
    await session.flush()
    await _audit(session, actor, "staff_group.created", group.id, now, {"code": group.code})
    return group


async def update_group(
    session: AsyncSession,
    group: StaffGroup,
    body: StaffGroupUpdate,
    *,
    actor: Principal,
    now: datetime,
) -> StaffGroup:
    changes: dict[str, Any] = {}
    for name in body.model_fields_set:
        value = getattr(body, name)
        if value is None:
            raise UnprocessableContent(f"{name} cannot be null", field=name)
        if getattr(group, name) != value:
            changes[name] = {"old": getattr(group, name), "new": value}
            setattr(group, name, value)
    if changes:
        group.updated_at = now
        await session.flush()
        await _audit(session, actor, "staff_group.updated", group.id, now, changes)
    return group


async def delete_group(
    session: AsyncSession, group: StaffGroup, *, actor: Principal, now: datetime
) -> None:
    used = await session.exec(select(Callup.id).where(col(Callup.group_id) == group.id).limit(1))
    if used.first() is not None:
        raise Conflict("the group has call-ups; their history keeps it", group_id=group.id)
    for member in (
        await session.exec(
            select(StaffGroupMember).where(col(StaffGroupMember.group_id) == group.id)
        )
    ).all():
        await session.delete(member)
    await session.flush()
    await session.delete(group)
    await session.flush()
    await _audit(session, actor, "staff_group.deleted", group.id, now, {"code": group.code})


async def list_groups(
    session: AsyncSession, *, department: str | None, limit: int, cursor: str | None
) -> tuple[list[StaffGroupRead], str | None]:
    query = select(StaffGroup)
    if department is not None:
        query = query.where(col(StaffGroup.department) == department)
    rows, next_cursor = await keyset_page(
        session, query, col(StaffGroup.id), limit=limit, cursor=cursor
    )
    counts = await _member_counts(session, [g.id for g in rows])
    return [_group_read(g, counts.get(g.id, 0)) for g in rows], next_cursor


# --- members --------------------------------------------------------------------------------


def member_read(member: StaffGroupMember) -> MemberRead:
    return MemberRead.model_validate(member, from_attributes=True)


def _normalise_email(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


async def add_member(
    session: AsyncSession,
    group: StaffGroup,
    body: MemberCreate,
    *,
    actor: Principal,
    now: datetime,
) -> StaffGroupMember:
    email = _normalise_email(body.email)
    counts = await _member_counts(session, [group.id])
    if counts.get(group.id, 0) >= MAX_MEMBERS:
        raise Conflict(f"a staff group holds at most {MAX_MEMBERS} members", group_id=group.id)
    same = select(StaffGroupMember.id).where(
        col(StaffGroupMember.group_id) == group.id, col(StaffGroupMember.email) == email
    )
    if (await session.exec(same)).first() is not None:
        raise Conflict(
            "this address is already a member of the group",
            errors=[{"field": "email", "message": "already a member"}],
        )
    member = StaffGroupMember(
        id=new_id("mem"),
        group_id=group.id,
        staff_sub=body.staff_sub,
        name=body.name,
        email=email,
        phone=body.phone,
        created_at=now,
    )
    session.add(member)
    await session.flush()
    await _audit(
        session, actor, "staff_group.member_added", group.id, now, {"member_id": member.id}
    )
    return member


async def remove_member(
    session: AsyncSession,
    group: StaffGroup,
    member_id: str,
    *,
    actor: Principal,
    now: datetime,
) -> None:
    member = await session.get(StaffGroupMember, member_id)
    if member is None or member.group_id != group.id:
        raise NotFound(f"no member {member_id} in this group")
    await session.delete(member)
    await session.flush()
    await _audit(
        session, actor, "staff_group.member_removed", group.id, now, {"member_id": member_id}
    )


async def list_members(
    session: AsyncSession,
    group: StaffGroup,
    *,
    limit: int,
    cursor: str | None,
    actor: Principal,
    now: datetime,
) -> tuple[list[MemberRead], str | None]:
    query = select(StaffGroupMember).where(col(StaffGroupMember.group_id) == group.id)
    rows, next_cursor = await keyset_page(
        session, query, col(StaffGroupMember.id), limit=limit, cursor=cursor
    )
    await _audit(session, actor, "staff_group.viewed", group.id, now, {"members": len(rows)})
    return [member_read(m) for m in rows], next_cursor


# --- call-ups -------------------------------------------------------------------------------


def _reply_token(settings: Settings, recipient: CallupRecipient) -> str:
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
    url = callup_mail.reply_url(settings.public_url, _reply_token(settings, recipient))
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
    await _audit(
        session,
        actor,
        "callup.created",
        callup.id,
        now,
        {"group_id": group.id, "recipients": len(members), "alert_id": body.alert_id},
    )
    return callup


async def get_visible_callup(
    session: AsyncSession, callup_id: str, actor: Principal, *, for_update: bool = False
) -> Callup:
    query = select(Callup).where(col(Callup.id) == callup_id)
    if for_update:
        query = query.with_for_update()
    callup = (await session.exec(query)).first()
    if callup is None or not may_read(
        actor.roles,
        actor.department,
        actor.sub,
        callup_department=callup.department,
        created_by=callup.created_by,
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


async def _group_names(session: AsyncSession, group_ids: set[str]) -> dict[str, str]:
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
    names = await _group_names(session, {callup.group_id})
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
    if "admin" not in actor.roles:
        query = query.where(
            (col(Callup.department) == actor.department) | (col(Callup.created_by) == actor.sub)
        )
    if status is not None:
        query = query.where(col(Callup.status) == status)
    if group_id is not None:
        query = query.where(col(Callup.group_id) == group_id)
    rows, next_cursor = await keyset_page(
        session, query, col(Callup.id), limit=limit, cursor=cursor, descending=True
    )
    names = await _group_names(session, {c.group_id for c in rows})
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
    await _audit(
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
    await _audit(session, actor, "callup.viewed", callup.id, now, {"view": view})


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


def _latest(reply: CallupReply) -> LatestReply:
    return LatestReply(ReplyStatus(reply.status), reply.arrival_minutes, reply.replied_at)


async def summary(session: AsyncSession, callup: Callup) -> CallupSummary:
    recipients = await _recipients(session, callup.id)
    latest = await _latest_replies(session, callup.id)
    result = summarise(
        [Person(r.id, r.name) for r in recipients],
        {recipient_id: _latest(reply) for recipient_id, reply in latest.items()},
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
        expected_arrival_at=expected_arrival(_latest(reply)),
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
    names = await _group_names(session, {callup.group_id})
    await _mail_recipient(session, settings, callup, recipient, names.get(callup.group_id, ""), now)
    await session.flush()
    await _audit(
        session, actor, "callup.link_resent", callup.id, now, {"recipient_id": recipient.id}
    )
    return recipient


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
    names = await _group_names(session, {callup.group_id})
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
    await _audit(
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
        expected_arrival_at=expected_arrival(_latest(reply)),
        comment=reply.comment,
        replied_at=reply.replied_at,
    )
