"""Staff groups that call-ups are sent to, and their members (role admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from services.alert_mail import staff_groups_service as service
from services.alert_mail.routes.callup_deps import (
    REPLAY,
    GroupAdmin,
    GroupId,
    MemberId,
)
from services.alert_mail.schemas.callups import (
    MemberCreate,
    MemberList,
    MemberRead,
    StaffGroupCreate,
    StaffGroupList,
    StaffGroupRead,
    StaffGroupUpdate,
)
from services.kit.deps import AuditedReadSession, ClockDep, SessionDep
from services.kit.idempotency import Idempotency
from services.kit.pagination import Cursor, Limit

router = APIRouter(prefix="/groups")


@router.post("", response_model=StaffGroupRead, status_code=201, responses=REPLAY)
async def create_group(
    body: StaffGroupCreate,
    principal: GroupAdmin,
    session: SessionDep,
    clock: ClockDep,
    idem: Idempotency,
) -> Response:
    """A staff group that call-ups are sent to, e.g. 災害対策本部員 of 危機管理室."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    group = await service.create_group(session, body, actor=principal, now=clock.now())
    view = await service.group_read(session, group)
    return await idem.complete(201, view, location=f"/v1/callups/groups/{group.id}")


@router.get("", response_model=StaffGroupList)
async def list_groups(
    principal: GroupAdmin,
    session: SessionDep,
    department: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> StaffGroupList:
    items, next_cursor = await service.list_groups(
        session, department=department, limit=limit, cursor=cursor
    )
    return StaffGroupList(items=items, next_cursor=next_cursor)


@router.get("/{group_id}", response_model=StaffGroupRead)
async def get_group(
    group_id: GroupId, principal: GroupAdmin, session: SessionDep
) -> StaffGroupRead:
    return await service.group_read(session, await service.get_group(session, group_id))


@router.patch("/{group_id}", response_model=StaffGroupRead)
async def update_group(
    group_id: GroupId,
    body: StaffGroupUpdate,
    principal: GroupAdmin,
    session: SessionDep,
    clock: ClockDep,
) -> StaffGroupRead:
    group = await service.get_group(session, group_id)
    await service.update_group(session, group, body, actor=principal, now=clock.now())
    return await service.group_read(session, group)


@router.delete("/{group_id}", status_code=204)
async def delete_group(
    group_id: GroupId, principal: GroupAdmin, session: SessionDep, clock: ClockDep
) -> Response:
    """Only a group that was never called up (a call-up's history keeps its group)."""
    group = await service.get_group(session, group_id)
    await service.delete_group(session, group, actor=principal, now=clock.now())
    return Response(status_code=204)


@router.post("/{group_id}/members", response_model=MemberRead, status_code=201, responses=REPLAY)
async def add_member(
    group_id: GroupId,
    body: MemberCreate,
    principal: GroupAdmin,
    session: SessionDep,
    clock: ClockDep,
    idem: Idempotency,
) -> Response:
    if (replay := await idem.begin(body)) is not None:
        return replay
    group = await service.get_group(session, group_id)
    member = await service.add_member(session, group, body, actor=principal, now=clock.now())
    return await idem.complete(
        201,
        service.member_read(member),
        location=f"/v1/callups/groups/{group.id}/members/{member.id}",
    )


@router.get("/{group_id}/members", response_model=MemberList)
async def list_members(
    group_id: GroupId,
    principal: GroupAdmin,
    session: AuditedReadSession,
    clock: ClockDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> MemberList:
    """Names and addresses: each read is audited (`staff_group.viewed`)."""
    group = await service.get_group(session, group_id)
    items, next_cursor = await service.list_members(
        session, group, limit=limit, cursor=cursor, actor=principal, now=clock.now()
    )
    return MemberList(items=items, next_cursor=next_cursor)


@router.get("/{group_id}/members/{member_id}", response_model=MemberRead)
async def get_member(
    group_id: GroupId,
    member_id: MemberId,
    principal: GroupAdmin,
    session: AuditedReadSession,
    clock: ClockDep,
) -> MemberRead:
    """One member, as the list shows it (a member of another group is a 404); audited
    (`staff_group.viewed`)."""
    group = await service.get_group(session, group_id)
    return await service.read_member(session, group, member_id, actor=principal, now=clock.now())


@router.delete("/{group_id}/members/{member_id}", status_code=204)
async def remove_member(
    group_id: GroupId,
    member_id: MemberId,
    principal: GroupAdmin,
    session: SessionDep,
    clock: ClockDep,
) -> Response:
    """Earlier call-ups keep the member among their recipients."""
    group = await service.get_group(session, group_id)
    await service.remove_member(session, group, member_id, actor=principal, now=clock.now())
    return Response(status_code=204)
