"""Reservations: book first-come (idempotent), weekly series, the waitlist, cancel with the
tiered refund; staff cancel for the facility and take counter payments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from services.facility_booking import fees_service, series_service, waitlist_service
from services.facility_booking import registrations_service as registrations
from services.facility_booking import reservation_reads as reads
from services.facility_booking import reservations_service as service
from services.facility_booking.domain.lifecycles import ReservationState
from services.facility_booking.facilities_service import load_site_for
from services.facility_booking.reservations_service import Booking
from services.facility_booking.routes.deps import ReservationId, SeriesId, WaitId
from services.facility_booking.schemas.reservations import (
    CancelCreate,
    CardPaymentCreate,
    FacilityCancelCreate,
    ReservationCreate,
    ReservationEventList,
    ReservationEventRead,
    ReservationList,
    ReservationRead,
    SeriesCreate,
    SeriesRead,
    WaitAccept,
    WaitCreate,
    WaitList,
    WaitRead,
)
from services.kit.auth import Citizen, Staff
from services.kit.deps import ClockDep, SessionDep
from services.kit.idempotency import Idempotency
from services.kit.openapi import CREATED_ELSEWHERE
from services.kit.pagination import Cursor, Limit

router = APIRouter(prefix="/v1/reservations", tags=["reservations"])
_REPLAY: dict[int | str, dict[str, Any]] = {200: {"description": "an Idempotency-Key replay"}}


@router.post("", response_model=ReservationRead, status_code=201, responses=_REPLAY)
async def create_reservation(
    body: ReservationCreate,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
    idem: Idempotency,
) -> Response:
    """Books one slot first-come. Free of charge → `confirmed`; a fee due → `held` (仮予約)
    until `hold_expires_at` (minutes for a card, days for konbini / Pay-easy / the counter).
    A slot someone else holds is a 409 `slot-taken`; a slot of an open lottery round a 409
    `lottery-slot`. Only approved facility users book."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    now = clock.now()
    site, found = await load_site_for(
        session, body.facility_code, principal.sub, field="facility_code"
    )
    registration = registrations.bookable(found, now)
    booking = Booking(
        unit_code=body.unit_code,
        day=body.day,
        slot_code=body.slot_code,
        payment_method=body.payment_method,
        purpose=body.purpose,
        attendees=body.attendees,
    )
    reservation = await service.book(session, site, registration, booking, actor=principal, now=now)
    return await idem.complete(
        201, reads.to_read(reservation), location=f"/v1/reservations/{reservation.id}"
    )


@router.get("", response_model=ReservationList)
async def list_reservations(
    principal: Citizen,
    session: SessionDep,
    status: ReservationState | None = None,
    series_id: SeriesId | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ReservationList:
    """The caller's own reservations, oldest first."""
    rows, next_cursor = await reads.list_mine(
        session, principal.sub, status=status, series_id=series_id, limit=limit, cursor=cursor
    )
    return ReservationList(items=[reads.to_read(r) for r in rows], next_cursor=next_cursor)


@router.post("/series", response_model=SeriesRead, status_code=201, responses=_REPLAY)
async def create_series(
    body: SeriesCreate,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
    idem: Idempotency,
) -> Response:
    """Books the same unit and slot every week for `weeks` weeks as one group; weeks that
    cannot be booked (taken, closed, outside the window, over the limit) are skipped and
    listed in `skipped`."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    now = clock.now()
    registration = await registrations.approved(session, principal.sub, now)
    series, booked = await series_service.create(
        session, registration, body, actor=principal, now=now
    )
    view = series_service.to_read(series, booked)
    return await idem.complete(201, view, location=f"/v1/reservations/series/{series.id}")


@router.get("/series/{series_id}", response_model=SeriesRead)
async def read_series(series_id: SeriesId, principal: Citizen, session: SessionDep) -> SeriesRead:
    series = await series_service.get_owned(session, series_id, principal.sub)
    return series_service.to_read(series, await series_service.members(session, series.id))


@router.post("/series/{series_id}/cancel", response_model=SeriesRead)
async def cancel_series(
    series_id: SeriesId, principal: Citizen, session: SessionDep, clock: ClockDep
) -> SeriesRead:
    """Cancels every active reservation of the series (each with its own refund tier)."""
    series = await series_service.get_owned(session, series_id, principal.sub)
    rows, kept = await series_service.cancel(session, series, actor=principal, now=clock.now())
    read = series_service.to_read(series, rows)
    return read.model_copy(update={"skipped": [*read.skipped, *kept]})


@router.post("/waitlist", response_model=WaitRead, status_code=201, responses=_REPLAY)
async def join_waitlist(
    body: WaitCreate,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
    idem: Idempotency,
) -> Response:
    """キャンセル待ち for a taken slot: when it frees, the first waiting user is offered it
    (held for them until `offer_expires_at`)."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    now = clock.now()
    registration = await registrations.approved(session, principal.sub, now)
    entry = await waitlist_service.join(session, registration, body, actor=principal, now=now)
    view = await waitlist_service.to_read(session, entry)
    return await idem.complete(201, view, location=f"/v1/reservations/waitlist/{entry.id}")


@router.get("/waitlist", response_model=WaitList)
async def list_waitlist(
    principal: Citizen, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> WaitList:
    rows, next_cursor = await waitlist_service.list_mine(
        session, principal.sub, limit=limit, cursor=cursor
    )
    items = [await waitlist_service.to_read(session, e) for e in rows]
    return WaitList(items=items, next_cursor=next_cursor)


@router.get("/waitlist/{wait_id}", response_model=WaitRead)
async def read_wait(wait_id: WaitId, principal: Citizen, session: SessionDep) -> WaitRead:
    """The caller's own waitlist entry, with its place in the queue (404 for anyone else's)."""
    entry = await waitlist_service.get_owned(session, wait_id, principal.sub)
    return await waitlist_service.to_read(session, entry)


@router.post(
    "/waitlist/{wait_id}/accept",
    response_model=ReservationRead,
    status_code=201,
    responses=CREATED_ELSEWHERE,
)
async def accept_offer(
    wait_id: WaitId,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    body: WaitAccept | None = None,
) -> ReservationRead:
    """Takes the offered slot: it becomes a reservation (held or confirmed, as a booking)."""
    now = clock.now()
    entry = await waitlist_service.get_owned(session, wait_id, principal.sub)
    registration = await registrations.approved(session, principal.sub, now)
    reservation = await waitlist_service.accept(
        session, entry, registration, body or WaitAccept(), actor=principal, now=now
    )
    response.headers["Location"] = f"/v1/reservations/{reservation.id}"
    return reads.to_read(reservation)


@router.post("/waitlist/{wait_id}/leave", response_model=WaitRead)
async def leave_waitlist(
    wait_id: WaitId, principal: Citizen, session: SessionDep, clock: ClockDep
) -> WaitRead:
    entry = await waitlist_service.get_owned(session, wait_id, principal.sub)
    await waitlist_service.leave(session, entry, actor=principal, now=clock.now())
    return await waitlist_service.to_read(session, entry)


@router.get("/{reservation_id}", response_model=ReservationRead)
async def read_reservation(
    reservation_id: ReservationId, principal: Citizen, session: SessionDep
) -> ReservationRead:
    return reads.to_read(await reads.get_owned(session, reservation_id, principal.sub))


@router.get("/{reservation_id}/events", response_model=ReservationEventList)
async def reservation_events(
    reservation_id: ReservationId,
    principal: Citizen,
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ReservationEventList:
    """The append-only history of the reservation's transitions, oldest first."""
    await reads.get_owned(session, reservation_id, principal.sub)
    rows, next_cursor = await reads.events(session, reservation_id, limit=limit, cursor=cursor)
    return ReservationEventList(
        items=[ReservationEventRead.model_validate(e, from_attributes=True) for e in rows],
        next_cursor=next_cursor,
    )


@router.post("/{reservation_id}/cancel", response_model=ReservationRead)
async def cancel_reservation(
    reservation_id: ReservationId,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
    body: CancelCreate | None = None,
) -> ReservationRead:
    """Cancels before the facility's deadline; what was paid is refunded by the tiers in
    the facility's rules (e.g. 100 % 7 days before, 50 % 2 days before, then nothing)."""
    reservation = await reads.get_owned(session, reservation_id, principal.sub)
    await service.cancel(
        session, reservation, actor=principal, now=clock.now(), reason=body.reason if body else ""
    )
    return reads.to_read(reservation)


@router.post("/{reservation_id}/cancel-by-facility", response_model=ReservationRead)
async def cancel_by_facility(
    reservation_id: ReservationId,
    body: FacilityCancelCreate,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
) -> ReservationRead:
    """Staff of the facility's department cancel (full refund, the user is told why)."""
    reservation = await reads.get_managed(session, reservation_id, principal)
    await service.cancel_by_facility(
        session, reservation, actor=principal, now=clock.now(), reason=body.reason_ja
    )
    return reads.to_read(reservation)


@router.post("/{reservation_id}/counter-payment", response_model=ReservationRead)
async def counter_payment(
    reservation_id: ReservationId, principal: Staff, session: SessionDep, clock: ClockDep
) -> ReservationRead:
    """The fee was paid at the facility's counter (窓口): the hold is confirmed."""
    reservation = await reads.get_managed(session, reservation_id, principal)
    await service.pay_at_counter(session, reservation, actor=principal, now=clock.now())
    return reads.to_read(reservation)


@router.post("/{reservation_id}/card-payment", response_model=ReservationRead)
async def card_payment(
    reservation_id: ReservationId,
    body: CardPaymentCreate,
    request: Request,
    principal: Citizen,
    session: SessionDep,
    clock: ClockDep,
) -> ReservationRead:
    """Pays a held card reservation with a payments_mock test card; confirmed when charged.
    A declined card is a 422 `payment-refused` (the hold stays until its deadline)."""
    reservation = await reads.get_owned(session, reservation_id, principal.sub)
    await fees_service.charge_card(
        session,
        request.app.state.runtime,
        reservation,
        body.card_number,
        actor=principal,
        now=clock.now(),
    )
    return reads.to_read(reservation)
