"""Staff groups (the people a call-up mails) and their members; reading the members is
staff reading personal data, so it is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.callups_service import audit_event
from services.alert_mail.models import (
    Callup,
    StaffGroup,
    StaffGroupMember,
)
from services.alert_mail.schemas.callups import (
    MemberCreate,
    MemberRead,
    StaffGroupCreate,
    StaffGroupRead,
    StaffGroupUpdate,
)
from services.kit.auth import Principal
from services.kit.email_address import normalise_email
from services.kit.errors import Conflict, NotFound, UnprocessableContent
from services.kit.ids import new_id
from services.kit.pagination import keyset_page

MAX_MEMBERS = 1000  # a call-up group is a few dozen people; this only bounds mistakes


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
    await audit_event(session, actor, "staff_group.created", group.id, now, {"code": group.code})
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
        await audit_event(session, actor, "staff_group.updated", group.id, now, changes)
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
    await audit_event(session, actor, "staff_group.deleted", group.id, now, {"code": group.code})


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


async def add_member(
    session: AsyncSession,
    group: StaffGroup,
    body: MemberCreate,
    *,
    actor: Principal,
    now: datetime,
) -> StaffGroupMember:
    email = normalise_email(body.email)
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
    await audit_event(
        session, actor, "staff_group.member_added", group.id, now, {"member_id": member.id}
    )
    return member


async def get_member(session: AsyncSession, group: StaffGroup, member_id: str) -> StaffGroupMember:
    """A member of `group`; a member of another group is a 404, like a missing one."""
    member = await session.get(StaffGroupMember, member_id)
    if member is None or member.group_id != group.id:
        raise NotFound(f"no member {member_id} in this group")
    return member


async def read_member(
    session: AsyncSession, group: StaffGroup, member_id: str, *, actor: Principal, now: datetime
) -> MemberRead:
    """One member as the list shows it; a name and an address, so the read is audited
    (`staff_group.viewed`, naming the member)."""
    member = await get_member(session, group, member_id)
    await audit_event(session, actor, "staff_group.viewed", group.id, now, {"member_id": member.id})
    return member_read(member)


async def remove_member(
    session: AsyncSession,
    group: StaffGroup,
    member_id: str,
    *,
    actor: Principal,
    now: datetime,
) -> None:
    member = await get_member(session, group, member_id)
    await session.delete(member)
    await session.flush()
    await audit_event(
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
    await audit_event(session, actor, "staff_group.viewed", group.id, now, {"members": len(rows)})
    return [member_read(m) for m in rows], next_cursor
