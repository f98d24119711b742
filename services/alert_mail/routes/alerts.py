"""Alerts (緊急情報): compose, edit, submit, four-eyes approval or rejection, withdrawal,
emergency publication, history; the public list of sent alerts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from services.alert_mail import alert_reads as reads
from services.alert_mail import alerts_service as service
from services.alert_mail.domain.alert_lifecycle import AlertState
from services.alert_mail.routes.alert_deps import (
    AlertIdPath,
    Approver,
    Composer,
    EmergencyPublisher,
    SettingsDep,
)
from services.alert_mail.schemas.alerts import (
    CODE_PATTERN,
    AlertCreate,
    AlertEventList,
    AlertList,
    AlertPatch,
    AlertRead,
    AlertReject,
    AlertWithdraw,
    PublicAlertList,
)
from services.kit.auth import Public, Staff
from services.kit.deps import ClockDep, SessionDep
from services.kit.idempotency import Idempotency
from services.kit.pagination import Cursor, Limit

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

CategoryFilter = Annotated[str | None, Query(pattern=CODE_PATTERN, max_length=64)]


@router.post(
    "",
    response_model=AlertRead,
    status_code=201,
    responses={200: {"model": AlertRead, "description": "an Idempotency-Key replay"}},
)
async def create_alert(
    body: AlertCreate,
    principal: Composer,
    session: SessionDep,
    clock: ClockDep,
    idem: Idempotency,
) -> Response:
    """Composes a draft (roles alert_publisher or emergency_publisher, for a category of the
    staff member's department). `districts` empty means the whole city (市内全域). An Update or
    Cancel names the sent alert it replaces in `references`."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    alert = await service.create(session, body, actor=principal, now=clock.now())
    return await idem.complete(201, reads.to_read(alert), location=f"/v1/alerts/{alert.id}")


@router.get("", response_model=AlertList)
async def list_alerts(
    principal: Staff,
    session: SessionDep,
    status: AlertState | None = None,
    category: CategoryFilter = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AlertList:
    """The staff member's department's alerts, drafts included, newest first."""
    filters = reads.StaffFilter(status=status.value if status else None, category=category)
    rows, next_cursor = await reads.list_for_staff(
        session, principal, filters, limit=limit, cursor=cursor
    )
    return AlertList(items=[reads.to_read(a) for a in rows], next_cursor=next_cursor)


@router.get("/public", response_model=PublicAlertList)
async def list_public_alerts(
    _: Public,
    session: SessionDep,
    settings: SettingsDep,
    category: CategoryFilter = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> PublicAlertList:
    """Sent alerts (sending or completed), newest first; open to anyone."""
    rows, next_cursor = await reads.list_public(
        session, category=category, limit=limit, cursor=cursor
    )
    return PublicAlertList(
        items=[reads.to_public(settings, a) for a in rows], next_cursor=next_cursor
    )


@router.get("/{alert_id}", response_model=AlertRead)
async def get_alert(alert_id: AlertIdPath, principal: Staff, session: SessionDep) -> AlertRead:
    return reads.to_read(await reads.get_visible(session, alert_id, principal))


@router.patch("/{alert_id}", response_model=AlertRead)
async def edit_alert(
    alert_id: AlertIdPath,
    body: AlertPatch,
    principal: Composer,
    session: SessionDep,
    clock: ClockDep,
) -> AlertRead:
    """Edits a draft (also one sent back by a reviewer)."""
    alert = await reads.get_visible(session, alert_id, principal, for_update=True)
    await service.edit(session, alert, body, actor=principal, now=clock.now())
    return reads.to_read(alert)


@router.get("/{alert_id}/events", response_model=AlertEventList)
async def list_alert_events(
    alert_id: AlertIdPath,
    principal: Staff,
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AlertEventList:
    """The append-only history of the alert, oldest first."""
    await reads.get_visible(session, alert_id, principal)
    items, next_cursor = await reads.list_events(session, alert_id, limit=limit, cursor=cursor)
    return AlertEventList(items=items, next_cursor=next_cursor)


@router.post("/{alert_id}/submit", response_model=AlertRead)
async def submit_alert(
    alert_id: AlertIdPath, principal: Composer, session: SessionDep, clock: ClockDep
) -> AlertRead:
    """Sends a draft for review by an approver."""
    alert = await reads.get_visible(session, alert_id, principal, for_update=True)
    await service.submit(session, alert, actor=principal, now=clock.now())
    return reads.to_read(alert)


@router.post("/{alert_id}/approve", response_model=AlertRead)
async def approve_alert(
    alert_id: AlertIdPath,
    principal: Approver,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> AlertRead:
    """Approves a submitted alert and starts sending it. The approver must be a different
    person from its author and submitter (four-eyes). Refused when the alert has expired or an
    identical alert was sent within the duplicate window."""
    alert = await reads.get_visible(session, alert_id, principal, for_update=True)
    await service.approve(session, settings, alert, actor=principal, now=clock.now())
    return reads.to_read(alert)


@router.post("/{alert_id}/reject", response_model=AlertRead)
async def reject_alert(
    alert_id: AlertIdPath,
    body: AlertReject,
    principal: Approver,
    session: SessionDep,
    clock: ClockDep,
) -> AlertRead:
    """Sends a submitted alert back to draft with a note."""
    alert = await reads.get_visible(session, alert_id, principal, for_update=True)
    await service.reject(session, alert, body.note, actor=principal, now=clock.now())
    return reads.to_read(alert)


@router.post("/{alert_id}/withdraw", response_model=AlertRead)
async def withdraw_alert(
    alert_id: AlertIdPath,
    principal: Composer,
    session: SessionDep,
    clock: ClockDep,
    body: AlertWithdraw | None = None,
) -> AlertRead:
    """Withdraws a draft or a submitted alert; it is never sent."""
    alert = await reads.get_visible(session, alert_id, principal, for_update=True)
    note = body.note if body else None
    await service.withdraw(session, alert, note, actor=principal, now=clock.now())
    return reads.to_read(alert)


@router.post("/{alert_id}/publish-emergency", response_model=AlertRead)
async def publish_emergency(
    alert_id: AlertIdPath,
    principal: EmergencyPublisher,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> AlertRead:
    """Sends a draft at once without a second person (role emergency_publisher)."""
    alert = await reads.get_visible(session, alert_id, principal, for_update=True)
    await service.publish_emergency(session, settings, alert, actor=principal, now=clock.now())
    return reads.to_read(alert)
