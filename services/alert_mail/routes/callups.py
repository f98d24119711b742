"""Staff call-up (職員参集メール): sending and closing call-ups (publishers), reading them and
their summaries (the group's department), plus the group and reply routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from services.alert_mail import callups_service as service
from services.alert_mail.domain.callup_lifecycle import CallupState
from services.alert_mail.routes import callup_groups, callup_reply
from services.alert_mail.routes.callup_deps import (
    REPLAY,
    ULID,
    CallupId,
    RecipientId,
    Sender,
    SettingsDep,
    StaffReader,
)
from services.alert_mail.schemas.callups import (
    CallupCreate,
    CallupList,
    CallupRead,
    CallupSummary,
    RecipientList,
)
from services.kit.auth import StaffMfa
from services.kit.deps import AuditedReadSession, ClockDep, SessionDep
from services.kit.idempotency import Idempotency
from services.kit.pagination import Cursor, Limit

router = APIRouter(prefix="/v1/callups", tags=["callups"])
# Before "/{callup_id}", which would otherwise claim "/groups" and "/reply".
router.include_router(callup_groups.router)
router.include_router(callup_reply.router)


@router.post("", response_model=CallupRead, status_code=201, responses=REPLAY)
async def create_callup(
    body: CallupCreate,
    principal: Sender,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    idem: Idempotency,
) -> Response:
    """Mails every member of the group at emergency priority, each with a personal reply link.
    `emergency_publisher` calls up any group, `alert_publisher` the groups of their own
    department."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    callup = await service.create_callup(session, settings, body, actor=principal, now=clock.now())
    view = await service.callup_read(session, callup)
    return await idem.complete(201, view, location=f"/v1/callups/{callup.id}")


@router.get("", response_model=CallupList)
async def list_callups(
    principal: StaffReader,
    session: SessionDep,
    status: CallupState | None = None,
    group_id: Annotated[str | None, Query(pattern=f"^grp_{ULID}$")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CallupList:
    """Newest first: the call-ups of the caller's department and those they sent."""
    items, next_cursor = await service.list_callups(
        session, principal, status=status, group_id=group_id, limit=limit, cursor=cursor
    )
    return CallupList(items=items, next_cursor=next_cursor)


@router.get("/{callup_id}", response_model=CallupRead)
async def get_callup(
    callup_id: CallupId, principal: StaffReader, session: AuditedReadSession, clock: ClockDep
) -> CallupRead:
    callup = await service.get_visible_callup(session, callup_id, principal)
    await service.record_view(session, callup, actor=principal, now=clock.now(), view="callup")
    return await service.callup_read(session, callup)


@router.get("/{callup_id}/summary", response_model=CallupSummary)
async def get_summary(
    callup_id: CallupId, principal: StaffReader, session: AuditedReadSession, clock: ClockDep
) -> CallupSummary:
    """Latest answer per member: counts per status, who has not answered, arrival times in
    buckets (≤30 / ≤60 / ≤120 / >120 minutes) and expected staff per hour (JST)."""
    callup = await service.get_visible_callup(session, callup_id, principal)
    await service.record_view(session, callup, actor=principal, now=clock.now(), view="summary")
    return await service.summary(session, callup)


@router.get("/{callup_id}/recipients", response_model=RecipientList)
async def list_recipients(
    callup_id: CallupId,
    principal: StaffMfa,
    session: AuditedReadSession,
    clock: ClockDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> RecipientList:
    """Each member asked, their mail's delivery status and their latest answer."""
    callup = await service.get_visible_callup(session, callup_id, principal)
    await service.record_view(session, callup, actor=principal, now=clock.now(), view="recipients")
    items, next_cursor = await service.list_recipients(session, callup, limit=limit, cursor=cursor)
    return RecipientList(items=items, next_cursor=next_cursor)


@router.post("/{callup_id}/close", response_model=CallupRead)
async def close_callup(
    callup_id: CallupId, principal: Sender, session: SessionDep, clock: ClockDep
) -> CallupRead:
    """Stops collecting answers (open → closed); later answers are refused with 409."""
    callup = await service.get_visible_callup(session, callup_id, principal, for_update=True)
    await service.close_callup(session, callup, actor=principal, now=clock.now())
    return await service.callup_read(session, callup)


@router.post("/{callup_id}/recipients/{recipient_id}/resend", status_code=202)
async def resend_link(
    callup_id: CallupId,
    recipient_id: RecipientId,
    principal: Sender,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Mails the member a new reply link; the earlier link stops working."""
    callup = await service.get_visible_callup(session, callup_id, principal, for_update=True)
    await service.resend(session, settings, callup, recipient_id, actor=principal, now=clock.now())
    return Response(status_code=202)
