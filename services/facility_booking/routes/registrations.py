"""利用者登録 (`/v1/facility-users`): register online, read one's own; staff list, read
(audited), approve, reject, suspend, reinstate and grant 減免; the personal calendar feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from services.facility_booking import calendar_feed
from services.facility_booking import registrations_service as service
from services.facility_booking.domain.lifecycles import RegistrationState, RegistrationStep
from services.facility_booking.routes.deps import RegistrationId, SettingsDep
from services.facility_booking.schemas.registrations import (
    CalendarFeed,
    Decision,
    ReductionGrant,
    RegistrationCreate,
    RegistrationList,
    RegistrationRead,
)
from services.kit.auth import Citizen, Public, Staff
from services.kit.deps import AuditedReadSession, ClockDep, SessionDep
from services.kit.idempotency import Idempotency
from services.kit.pagination import Cursor, Limit

router = APIRouter(prefix="/v1/facility-users", tags=["facility users"])


@router.post(
    "",
    response_model=RegistrationRead,
    status_code=201,
    responses={200: {"model": RegistrationRead, "description": "an Idempotency-Key replay"}},
)
async def register(
    body: RegistrationCreate,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
    idem: Idempotency,
) -> Response:
    """Registers the caller as a facility user (個人 or 団体, 市内 or 市外). Approved at once
    for a card-verified login (acr=jpki); otherwise staff approve it. One per account."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    registration = await service.register(session, body, actor=principal, now=clock.now())
    location = f"/v1/facility-users/{registration.id}"
    return await idem.complete(201, service.to_read(registration), location=location)


@router.get("/me", response_model=RegistrationRead)
async def read_mine(principal: Citizen, session: SessionDep) -> RegistrationRead:
    return service.to_read(await service.mine(session, principal.sub))


@router.post("/me/calendar-feed", response_model=CalendarFeed)
async def rotate_calendar(
    principal: Citizen, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> CalendarFeed:
    """A personal iCalendar URL of one's reservations; calling again revokes the old one."""
    token = await service.rotate_calendar_token(session, principal, clock.now())
    return CalendarFeed(url=settings.public_url.rstrip("/") + calendar_feed.feed_path(token))


@router.delete("/me/calendar-feed", status_code=204)
async def revoke_calendar(principal: Citizen, session: SessionDep, clock: ClockDep) -> Response:
    await service.revoke_calendar_token(session, principal, clock.now())
    return Response(status_code=204)


@router.get(
    "/calendars/{token}.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
async def calendar(
    token: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,64}$")],
    session: SessionDep,
    clock: ClockDep,
    _: Public,
) -> Response:
    """The feed itself: anyone holding the URL reads it (calendar apps send no token)."""
    registration = await service.by_calendar_token(session, token)
    body = await calendar_feed.render(session, registration, clock.now())
    return Response(body, media_type="text/calendar; charset=utf-8")


@router.get("", response_model=RegistrationList)
async def list_registrations(
    principal: Staff,
    session: SessionDep,
    status: RegistrationState | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> RegistrationList:
    """Staff of a facility department: registrations (e.g. `status=pending` to approve)."""
    rows, next_cursor = await service.staff_list(
        session, principal, service.StaffFilter(status), limit=limit, cursor=cursor
    )
    return RegistrationList(items=[service.to_read(r) for r in rows], next_cursor=next_cursor)


@router.get("/{registration_id}", response_model=RegistrationRead)
async def read_registration(
    registration_id: RegistrationId,
    principal: Staff,
    session: AuditedReadSession,
    clock: ClockDep,
) -> RegistrationRead:
    found = await service.staff_read(session, registration_id, actor=principal, now=clock.now())
    return service.to_read(found)


def _decision(step: RegistrationStep, summary: str) -> None:
    @router.post(f"/{{registration_id}}/{step.value}", response_model=RegistrationRead)
    async def decide(
        registration_id: RegistrationId,
        principal: Staff,
        session: SessionDep,
        clock: ClockDep,
        body: Decision | None = None,
    ) -> RegistrationRead:
        found = await service.decide(
            session,
            registration_id,
            step,
            actor=principal,
            now=clock.now(),
            note=body.note if body else None,
        )
        return service.to_read(found)

    decide.__name__ = f"{step.value}_registration"
    decide.__doc__ = summary


_decision(RegistrationStep.APPROVE, "Approves a pending registration: the user may book.")
_decision(RegistrationStep.REJECT, "Rejects a pending registration (say why in `note`).")
_decision(RegistrationStep.SUSPEND, "Suspends an approved user: no new bookings.")
_decision(RegistrationStep.REINSTATE, "Lifts a suspension.")


@router.post("/{registration_id}/reduction", response_model=RegistrationRead)
async def grant_reduction(
    registration_id: RegistrationId,
    body: ReductionGrant,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
) -> RegistrationRead:
    """Grants a 減免 category (50 % or 100 % off the usage fee); `none` withdraws it."""
    found = await service.grant_reduction(
        session, registration_id, body.reduction, actor=principal, now=clock.now()
    )
    return service.to_read(found)
